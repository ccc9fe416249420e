/**
 * The GitHub Actions workflow, checked where it cannot run: it parses as YAML, has the Linux × Windows ×
 * Node.js 20/22/24 matrix, every step either runs a command or uses an action, and what its commands name
 * exists in this repository (npm scripts, vitest projects, scripts and files).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfigText } from '@oma/core';
import { describe, expect, it } from 'vitest';
import { REPO } from './helpers.js';

interface Step {
  readonly name?: string;
  readonly if?: string;
  readonly uses?: string;
  readonly run?: string;
  readonly shell?: string;
  readonly with?: Record<string, unknown>;
}
interface Job {
  readonly 'runs-on': string;
  readonly strategy?: { matrix?: Record<string, unknown[]> };
  readonly steps: Step[];
}

const FILE = join(REPO, '.github', 'workflows', 'ci.yml');
const workflow = parseConfigText(readFileSync(FILE, 'utf8'), FILE) as { name: string; on: unknown; jobs: Record<string, Job> };
const job = workflow.jobs.test!;
const steps = job.steps;
const windows = steps.filter((s) => s.if?.includes("runner.os == 'Windows'"));

/** The vitest project names: the `name` of each project's vitest config. */
function vitestProjects(): Set<string> {
  const names = new Set<string>();
  for (const parent of ['packages', 'tools']) {
    for (const d of readdirSync(join(REPO, parent))) {
      const cfg = join(REPO, parent, d, 'vitest.config.ts');
      if (existsSync(cfg)) names.add(/name: '([^']+)'/.exec(readFileSync(cfg, 'utf8'))![1]!);
    }
  }
  names.add(/name: '([^']+)'/.exec(readFileSync(join(REPO, 'test', 'vitest.config.ts'), 'utf8'))![1]!);
  return names;
}

describe('.github/workflows/ci.yml', () => {
  it('runs the test job on ubuntu-latest and windows-latest with Node.js 20, 22 and 24', () => {
    expect(job['runs-on']).toBe('${{ matrix.os }}');
    expect(job.strategy?.matrix).toEqual({ os: ['ubuntu-latest', 'windows-latest'], node: [20, 22, 24] });
    expect(steps.find((s) => s.uses?.startsWith('actions/setup-node@'))?.with).toMatchObject({ 'node-version': '${{ matrix.node }}' });
    expect(steps.map((s) => s.run).filter(Boolean)).toEqual(expect.arrayContaining(['npm ci', 'npm test']));
  });

  it('has only well-formed steps whose conditions name the runner OS or the matrix', () => {
    for (const job of Object.values(workflow.jobs)) {
      for (const s of job.steps) {
        expect(Number(s.run !== undefined) + Number(s.uses !== undefined), JSON.stringify(s)).toBe(1);
        if (s.uses !== undefined) expect(s.uses).toMatch(/^[\w-]+\/[\w-]+@v\d+$/);
        if (s.if !== undefined) expect(s.if.replace(/runner\.os == '(Linux|Windows)'|matrix\.node [!=]= \d+|always\(\)|&&/g, '').trim(), s.if).toBe('');
        if (s.shell !== undefined) expect(['bash', 'pwsh']).toContain(s.shell);
      }
    }
  });

  it('does on Windows what the issue asks: events, counters, the service, the zip, the MSI and the benchmark', () => {
    const runs = windows.map((s) => s.run ?? '').join('\n');
    for (const script of ['event-log-scenario.mjs', 'pdh-scenario.mjs', 'service-scenario.mjs', 'event-log-bench.mjs']) {
      expect(runs).toContain(`tools/windows-ci/${script}`);
      expect(existsSync(join(REPO, 'tools', 'windows-ci', script)), script).toBe(true);
    }
    expect(runs).toContain('node tools/package/dist/windows.js --out dist-pkg --stage dist-pkg/stage');
    expect(existsSync(join(REPO, 'tools', 'package', 'src', 'windows.ts'))).toBe(true);
    expect(runs).toContain('dotnet tool install --global wix --version 5.0.2');
    const wix = /wix build (\S+) -arch x64 -bindpath payload=dist-pkg\\stage\\OMA/.exec(runs);
    expect(existsSync(join(REPO, ...wix![1]!.split('\\')))).toBe(true);
    expect(runs).toMatch(/msiexec\.exe -ArgumentList '\/i'/);
    expect(runs).toMatch(/msiexec\.exe -ArgumentList '\/x'/);
    // The event scenario writes with both tools (inside the script).
    const scenario = readFileSync(join(REPO, 'tools', 'windows-ci', 'event-log-scenario.mjs'), 'utf8');
    expect(scenario).toContain("run('eventcreate'");
    expect(scenario).toContain('Write-EventLog');
    expect(scenario).toContain('New-EventLog');
  });

  it('names only vitest projects, npm scripts and test files that exist', () => {
    const projects = vitestProjects();
    const scripts = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    for (const s of Object.values(workflow.jobs).flatMap((j) => j.steps)) {
      const run = s.run ?? '';
      for (const m of run.matchAll(/--project (\S+)/g)) expect(projects.has(m[1]!), m[1]).toBe(true);
      for (const m of run.matchAll(/npm run (\S+)/g)) expect(scripts[m[1]!], m[1]).toBeDefined();
      const filter = /--project e2e ([\w-]+)/.exec(run);
      if (filter) expect(existsSync(join(REPO, 'test', 'e2e', `${filter[1]}.test.ts`)), filter[1]).toBe(true);
    }
  });
});
