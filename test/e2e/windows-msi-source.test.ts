/**
 * The WiX source of the MSI, checked where it cannot be built (the Windows CI job builds it with
 * `wix build`): well-formed XML, every property it uses declared, every custom action scheduled and
 * defined, and the command lines of its custom actions, formatted as Windows Installer would for a few
 * sets of public properties, accepted by `oma onboard` and `oma service`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseOnboardArgs } from '@oma/cli';
import { REPO } from './helpers.js';

const WXS = join(REPO, 'tools', 'package', 'files', 'windows', 'oma.wxs');

interface XmlElement {
  readonly name: string;
  readonly attrs: Record<string, string>;
  readonly children: XmlElement[];
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(text: string, where: string): string {
  return text.replace(/&([^;&\s]*);?/g, (all, name: string) => {
    if (!all.endsWith(';')) throw new Error(`${where}: "&" not followed by an entity`);
    if (name.startsWith('#x')) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(Number(name.slice(1)));
    const v = ENTITIES[name];
    if (v === undefined) throw new Error(`${where}: unknown entity &${name};`);
    return v;
  });
}

/** A strict little XML parser: elements, attributes, comments, processing instructions; throws when not well-formed. */
function parseXml(text: string): XmlElement {
  let i = 0;
  const line = (): number => text.slice(0, i).split('\n').length;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    if (lt < 0) {
      if (text.slice(i).trim() !== '') throw new Error(`line ${line()}: text after the root element`);
      break;
    }
    const between = text.slice(i, lt);
    if (stack.length === 0 && between.trim() !== '') throw new Error(`line ${line()}: text outside the root element`);
    if (between.includes('>')) throw new Error(`line ${line()}: stray ">"`);
    decode(between, `line ${line()}`);
    i = lt;
    if (text.startsWith('<!--', i)) {
      const end = text.indexOf('-->', i + 4);
      if (end < 0) throw new Error(`line ${line()}: unterminated comment`);
      if (text.slice(i + 4, end).includes('--')) throw new Error(`line ${line()}: "--" inside a comment`);
      i = end + 3;
    } else if (text.startsWith('<?', i)) {
      const end = text.indexOf('?>', i);
      if (end < 0) throw new Error(`line ${line()}: unterminated processing instruction`);
      i = end + 2;
    } else if (text.startsWith('</', i)) {
      const m = /^<\/([A-Za-z_][\w.:-]*)\s*>/.exec(text.slice(i));
      if (!m) throw new Error(`line ${line()}: bad end tag`);
      const open = stack.pop();
      if (open?.name !== m[1]) throw new Error(`line ${line()}: </${m[1]}> closes <${open?.name ?? 'nothing'}>`);
      i += m[0].length;
    } else {
      const m = /^<([A-Za-z_][\w.:-]*)/.exec(text.slice(i));
      if (!m) throw new Error(`line ${line()}: bad start tag`);
      i += m[0].length;
      const el: XmlElement = { name: m[1]!, attrs: {}, children: [] };
      for (;;) {
        const ws = /^\s*/.exec(text.slice(i))![0];
        i += ws.length;
        if (text.startsWith('/>', i) || text.startsWith('>', i)) break;
        if (ws === '') throw new Error(`line ${line()}: attributes must be separated by white space`);
        const a = /^([A-Za-z_][\w.:-]*)\s*=\s*("([^"<]*)"|'([^'<]*)')/.exec(text.slice(i));
        if (!a) throw new Error(`line ${line()}: bad attribute in <${el.name}>`);
        if (a[1]! in el.attrs) throw new Error(`line ${line()}: attribute ${a[1]} twice in <${el.name}>`);
        el.attrs[a[1]!] = decode(a[3] ?? a[4] ?? '', `line ${line()}`);
        i += a[0].length;
      }
      if (stack.length > 0) stack[stack.length - 1]!.children.push(el);
      else if (root) throw new Error(`line ${line()}: a second root element`);
      else root = el;
      if (text.startsWith('/>', i)) i += 2;
      else {
        i += 1;
        stack.push(el);
      }
    }
  }
  if (stack.length > 0) throw new Error(`<${stack[stack.length - 1]!.name}> is not closed`);
  if (!root) throw new Error('no root element');
  return root;
}

function all(el: XmlElement, name: string): XmlElement[] {
  return [...(el.name === name ? [el] : []), ...el.children.flatMap((c) => all(c, name))];
}

/** Properties and actions Windows Installer defines itself. */
const BUILTIN_PROPERTIES = new Set(['INSTALLFOLDER', 'CommonAppDataFolder', 'SystemFolder', 'ProgramFiles64Folder', 'REMOVE', 'Installed', 'UPGRADINGPRODUCTCODE']);
const STANDARD_ACTIONS = new Set(['CostFinalize', 'InstallFiles', 'RemoveFiles', 'InstallInitialize', 'InstallFinalize']);

/** A condition of Windows Installer's grammar as far as this file uses it: names, NOT, AND, OR, = and ~= with "strings". */
function evaluate(condition: string, props: Record<string, string>): boolean {
  const tokens = condition.match(/"[^"]*"|~=|=|\(|\)|[A-Za-z_][\w.]*/g) ?? [];
  let pos = 0;
  const value = (): string => {
    const t = tokens[pos++]!;
    return t.startsWith('"') ? t.slice(1, -1) : (props[t] ?? '');
  };
  const primary = (): boolean => {
    if (tokens[pos] === 'NOT') {
      pos++;
      return !primary();
    }
    if (tokens[pos] === '(') {
      pos++;
      const v = or();
      pos++;
      return v;
    }
    const left = value();
    if (tokens[pos] === '=' || tokens[pos] === '~=') {
      const op = tokens[pos++];
      const right = value();
      return op === '=' ? left === right : left.toLowerCase() === right.toLowerCase();
    }
    return left !== '';
  };
  const and = (): boolean => {
    let v = primary();
    while (tokens[pos] === 'AND') {
      pos++;
      v = primary() && v;
    }
    return v;
  };
  const or = (): boolean => {
    let v = and();
    while (tokens[pos] === 'OR') {
      pos++;
      v = and() || v;
    }
    return v;
  };
  return or();
}

/** `[NAME]` replaced by the property's value, as MsiFormatRecord does. */
function format(text: string, props: Record<string, string>): string {
  return text.replace(/\[([A-Za-z_][\w.]*)\]/g, (_, name: string) => props[name] ?? '');
}

/** A Windows command line split into arguments (quotes group; no escaped quotes in what this file writes). */
function splitCommandLine(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

const wxs = readFileSync(WXS, 'utf8');
const doc = parseXml(wxs);

/** The properties after the immediate actions ran, and the deferred command lines scheduled, for `publicProps` on a first install. */
function install(publicProps: Record<string, string>, state: Record<string, string> = {}): Map<string, string[]> {
  const props: Record<string, string> = { INSTALLFOLDER: 'C:\\Program Files\\OMA\\', CommonAppDataFolder: 'C:\\ProgramData\\', SystemFolder: 'C:\\Windows\\System32\\', ...state };
  for (const p of all(doc, 'Property')) if (p.attrs.Value !== undefined) props[p.attrs.Id!] = p.attrs.Value;
  Object.assign(props, publicProps);
  // SetProperty actions all run before the deferred actions are scheduled; the base ones (after CostFinalize) first.
  const sets = all(doc, 'SetProperty').sort((a, b) => Number(a.attrs.After === undefined) - Number(b.attrs.After === undefined));
  for (const s of sets) if (s.attrs.Condition === undefined || evaluate(s.attrs.Condition, props)) props[s.attrs.Id!] = format(s.attrs.Value!, props);
  const actions = new Map(all(doc, 'CustomAction').map((a) => [a.attrs.Id!, a]));
  const run = new Map<string, string[]>();
  for (const c of all(doc, 'Custom')) {
    if (c.attrs.Condition !== undefined && !evaluate(c.attrs.Condition, props)) continue;
    const action = actions.get(c.attrs.Action!)!;
    run.set(c.attrs.Action!, splitCommandLine(format(action.attrs.ExeCommand!, props)));
  }
  return run;
}

/** The arguments after `oma.js` of a command line that runs the CLI with the bundled node.exe. */
function omaArgs(argv: string[] | undefined): string[] {
  expect(argv?.slice(0, 2)).toEqual(['C:\\Program Files\\OMA\\node.exe', 'C:\\Program Files\\OMA\\app\\node_modules\\@oma\\cli\\bin\\oma.js']);
  return argv!.slice(2);
}

describe('the MSI source (oma.wxs)', () => {
  it('is well-formed WiX v4+ XML', () => {
    expect(doc.name).toBe('Wix');
    expect(doc.attrs.xmlns).toBe('http://wixtoolset.org/schemas/v4/wxs');
    expect(all(doc, 'Package')).toHaveLength(1);
    expect(() => parseXml('<a><b></a></b>')).toThrow(/closes/);
    expect(() => parseXml('<a x="1 & 2"/>')).toThrow(/entity/);
    expect(() => parseXml('<!-- a -- b --><a/>')).toThrow(/inside a comment/);
  });

  it('declares the MMA-style public properties, the secrets hidden from the log', () => {
    const declared = new Map(all(doc, 'Property').map((p) => [p.attrs.Id!, p.attrs]));
    for (const p of ['WORKSPACE_ID', 'WORKSPACE_KEY', 'DCE_URL', 'DCR_IMMUTABLE_ID', 'STREAM', 'TENANT_ID', 'CLIENT_ID', 'CLIENT_SECRET', 'CERTIFICATE_PATH', 'MANAGED_IDENTITY', 'PROXY_URL', 'PROXY_USER', 'PROXY_PASSWORD', 'CLOUD']) {
      expect(declared.get(p)?.Secure, p).toBe('yes');
    }
    for (const p of ['WORKSPACE_KEY', 'CLIENT_SECRET', 'PROXY_PASSWORD']) expect(declared.get(p)?.Hidden, p).toBe('yes');
    for (const a of all(doc, 'CustomAction').filter((x) => /onboard --(workspace|dce)/.test(x.attrs.ExeCommand ?? ''))) expect(a.attrs.HideTarget, a.attrs.Id).toBe('yes');
  });

  it('uses only properties it declares (or Windows Installer defines), and schedules only actions it defines', () => {
    const declared = new Set([...all(doc, 'Property').map((p) => p.attrs.Id!), ...all(doc, 'SetProperty').map((p) => p.attrs.Id!), ...all(doc, 'Directory').map((d) => d.attrs.Id!)]);
    const used = new Set<string>();
    for (const el of [...all(doc, 'SetProperty'), ...all(doc, 'CustomAction'), ...all(doc, 'Custom')]) {
      for (const [k, v] of Object.entries(el.attrs)) {
        for (const m of v.matchAll(/\[([A-Za-z_][\w.]*)\]/g)) used.add(m[1]!);
        if (k === 'Condition') for (const m of v.replace(/"[^"]*"/g, '').matchAll(/\b(?!AND\b|OR\b|NOT\b)([A-Za-z_]\w*)\b/g)) used.add(m[1]!);
      }
    }
    expect([...used].filter((p) => !declared.has(p) && !BUILTIN_PROPERTIES.has(p))).toEqual([]);
    const actions = new Set([...all(doc, 'CustomAction').map((a) => a.attrs.Id!), ...all(doc, 'SetProperty').map((s) => s.attrs.Action ?? `Set${s.attrs.Id}`)]);
    for (const c of all(doc, 'Custom')) expect(actions.has(c.attrs.Action!), c.attrs.Action).toBe(true);
    for (const el of [...all(doc, 'Custom'), ...all(doc, 'SetProperty')]) {
      for (const k of ['Before', 'After'] as const) {
        const ref = el.attrs[k];
        if (ref !== undefined) expect(actions.has(ref) || STANDARD_ACTIONS.has(ref), `${k}=${ref}`).toBe(true);
      }
    }
    expect([...actions].filter((a) => !all(doc, 'Custom').some((c) => c.attrs.Action === a) && !a.startsWith('Set'))).toEqual([]);
  });

  it('onboards a workspace with its key, cloud and proxy credential, then installs and starts the service', () => {
    const run = install({ WORKSPACE_ID: 'ws-id', WORKSPACE_KEY: 'a2V5', CLOUD: 'AzureUSGovernment', PROXY_URL: 'http://proxy:3128', PROXY_USER: 'CORP\\svc', PROXY_PASSWORD: 'p@ss w' });
    expect([...run.keys()]).toEqual(['OmaSecureData', 'OmaOnboardWorkspace', 'OmaServiceInstallRollback', 'OmaServiceInstall', 'OmaServiceStart']);
    const args = omaArgs(run.get('OmaOnboardWorkspace'));
    expect(args[0]).toBe('onboard');
    const o = parseOnboardArgs(args.slice(1));
    expect(o).toMatchObject({
      configFile: 'C:\\ProgramData\\OMA\\oma.yaml',
      dataDir: 'C:\\ProgramData\\OMA',
      destination: { kind: 'data_collector', workspaceId: 'ws-id', sharedKey: 'a2V5' },
      cloud: 'usgov',
      proxy: 'http://CORP%5Csvc:p%40ss%20w@proxy:3128',
      force: true,
      restart: false,
    });
    expect(omaArgs(run.get('OmaServiceInstall'))).toEqual(['service', 'install', '--config', 'C:\\ProgramData\\OMA\\oma.yaml']);
    expect(omaArgs(run.get('OmaServiceStart'))).toEqual(['service', 'start']);
    expect(run.get('OmaSecureData')!.join(' ')).toMatch(/icacls\.exe C:\\ProgramData\\OMA \/inheritance:r \/grant:r \*S-1-5-18:\(OI\)\(CI\)F \*S-1-5-32-544:\(OI\)\(CI\)F$/);
  });

  it.each([
    [{ CLIENT_SECRET: 'sec', TENANT_ID: 't', CLIENT_ID: 'c' }, { type: 'client_secret', tenantId: 't', clientId: 'c', clientSecret: 'sec' }],
    [{ CERTIFICATE_PATH: 'C:\\certs\\oma.pem', TENANT_ID: 't', CLIENT_ID: 'c' }, { type: 'client_certificate', tenantId: 't', clientId: 'c' }],
    [{ MANAGED_IDENTITY: '1' }, { type: 'managed_identity' }],
    [{ MANAGED_IDENTITY: '1', CLIENT_ID: 'uami' }, { type: 'managed_identity', clientId: 'uami' }],
  ])('onboards a data collection rule with the credential %j', (credential, auth) => {
    const run = install({ DCE_URL: 'https://dce.westeurope-1.ingest.monitor.azure.com', DCR_IMMUTABLE_ID: 'dcr-0123456789abcdef0123456789abcdef', STREAM: 'Event=Custom-Event', ...credential });
    expect(run.has('OmaOnboardWorkspace')).toBe(false);
    const args = omaArgs(run.get('OmaOnboardDcr'));
    const o = parseOnboardArgs(args.slice(1));
    expect(o.cloud).toBe('public');
    expect(o.destination).toMatchObject({ kind: 'logs_ingestion', dcrImmutableId: 'dcr-0123456789abcdef0123456789abcdef', streams: { Event: 'Custom-Event' }, auth });
  });

  it('without a workspace writes the local workspace config, and on uninstall removes the service and, unless KEEP_DATA, the data', () => {
    const fresh = install({});
    expect([...fresh.keys()]).toEqual(['OmaSecureData', 'OmaOnboardLocal', 'OmaServiceInstallRollback', 'OmaServiceInstall', 'OmaServiceStart']);
    expect(parseOnboardArgs(omaArgs(fresh.get('OmaOnboardLocal')).slice(1)).destination).toEqual({ kind: 'local' });
    const removed = install({}, { Installed: '00:00', REMOVE: 'ALL' });
    expect([...removed.keys()]).toEqual(['OmaServiceUninstall', 'OmaRemoveData']);
    expect(omaArgs(removed.get('OmaServiceUninstall'))).toEqual(['service', 'uninstall']);
    expect(removed.get('OmaRemoveData')!.join(' ')).toMatch(/rmdir \/s \/q C:\\ProgramData\\OMA$/);
    expect([...install({ KEEP_DATA: '1' }, { Installed: '00:00', REMOVE: 'ALL' }).keys()]).toEqual(['OmaServiceUninstall']);
    // An upgrade uninstalls the old product: the service goes (the new one creates it again), the data stays.
    expect([...install({}, { Installed: '00:00', REMOVE: 'ALL', UPGRADINGPRODUCTCODE: '{X}' }).keys()]).toEqual(['OmaServiceUninstall']);
  });
});
