import { describe, expect, it } from 'vitest';
import { osVersionFromRelease, parseOsRelease, splitVersion } from './os-release.js';
import { privateIPs } from '@oma/core';

describe('parseOsRelease', () => {
  it('handles quoting, escapes, comments and junk lines', () => {
    const fields = parseOsRelease(
      [
        '# comment',
        '',
        'NAME="Foo \\"Bar\\" Linux"',
        "ID='foo'",
        'VERSION_ID=1.2',
        '  PRETTY_NAME="Foo $HOME \\\\ 1.2"  ',
        'not a field',
        'BROKEN="no closing quote',
        'lower_case=ok',
        'CRLF=yes\r',
      ].join('\n'),
    );
    expect(fields).toEqual({
      NAME: 'Foo "Bar" Linux',
      ID: 'foo',
      VERSION_ID: '1.2',
      PRETTY_NAME: 'Foo $HOME \\ 1.2',
      lower_case: 'ok',
      CRLF: 'yes',
    });
  });

  it('prefers NAME, then PRETTY_NAME, then ID, and VERSION_ID over VERSION', () => {
    expect(osVersionFromRelease({ PRETTY_NAME: 'P', ID: 'i', VERSION: '7 (x)' })).toEqual({ osName: 'P', osMajorVersion: '7', osMinorVersion: '0' });
    expect(osVersionFromRelease({ ID: 'i', VERSION_ID: '8.9', VERSION: '7' })).toEqual({ osName: 'i', osMajorVersion: '8', osMinorVersion: '9' });
    expect(osVersionFromRelease({ VERSION_ID: '1' })).toBeUndefined();
  });

  it('splits versions', () => {
    expect(splitVersion('12')).toEqual({ major: '12', minor: '0' });
    expect(splitVersion('22.04')).toEqual({ major: '22', minor: '04' });
    expect(splitVersion('3.19.1')).toEqual({ major: '3', minor: '19' });
    expect(splitVersion('6.1.0-18-amd64')).toEqual({ major: '6', minor: '1' });
    expect(splitVersion('rolling')).toBeUndefined();
  });
});

describe('privateIPs', () => {
  it('keeps non-internal, non-link-local addresses, IPv4 first, without duplicates', () => {
    const base = { netmask: '', mac: '', cidr: null };
    expect(
      privateIPs({
        lo: [{ ...base, address: '127.0.0.1', family: 'IPv4', internal: true }],
        a: [
          { ...base, address: '2001:db8::5', family: 'IPv6', internal: false, scopeid: 0 },
          { ...base, address: 'FE80::1', family: 'IPv6', internal: false, scopeid: 3 },
          { ...base, address: '10.0.0.5', family: 'IPv4', internal: false },
        ],
        b: [
          { ...base, address: '10.0.0.5', family: 'IPv4', internal: false },
          { ...base, address: '169.254.1.1', family: 'IPv4', internal: false },
        ],
        c: undefined,
      }),
    ).toEqual(['10.0.0.5', '2001:db8::5']);
  });
});
