import { describe, expect, it } from 'vitest';
import { createEventLogBinding, createPdhBinding, dllPath, pathInstance, providerName } from '../index.js';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('Windows bindings on another OS', () => {
  it.runIf(process.platform !== 'win32')('import without loading koffi, and fail with OMA_ERR_NATIVE_LOAD only when used', () => {
    const binding = createEventLogBinding();
    expect(thrown(() => binding.subscribe({ channel: 'Application', query: '*', start: 'oldest', batchSize: 10, renderMessages: false }))).toMatchObject({
      code: 'OMA_ERR_NATIVE_LOAD',
    });
    expect(thrown(() => createPdhBinding().openQuery())).toMatchObject({ code: 'OMA_ERR_NATIVE_LOAD' });
  });
});

describe('dllPath', () => {
  it('is the system DLL unless its variable names another file', () => {
    expect(dllPath('wevtapi', {})).toBe('wevtapi.dll');
    expect(dllPath('wevtapi', { OMA_WEVTAPI_DLL: '' })).toBe('wevtapi.dll');
    expect(dllPath('wevtapi', { OMA_WEVTAPI_DLL: 'C:\\t\\wevtapi.dll' })).toBe('C:\\t\\wevtapi.dll');
    expect(dllPath('pdh', { OMA_WEVTAPI_DLL: 'C:\\t\\wevtapi.dll' })).toBe('pdh.dll');
  });
});

describe('providerName', () => {
  it('reads the Provider element of rendered event XML, either quote, entities decoded', () => {
    expect(
      providerName(
        "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Security-Auditing' Guid='{54849625-5478-4994-a5ba-3e3b0328c30d}'/><EventID>4624</EventID></System></Event>",
      ),
    ).toBe('Microsoft-Windows-Security-Auditing');
    expect(providerName('<Event><System><Provider Guid="{x}" Name="A &amp; B"/></System></Event>')).toBe('A & B');
    expect(providerName('<Event><System><EventID>1</EventID></System></Event>')).toBeUndefined();
  });
});

describe('pathInstance', () => {
  it('is the parenthesised part of the object, empty without one', () => {
    expect(pathInstance('\\Processor(_Total)\\% Processor Time')).toBe('_Total');
    expect(pathInstance('\\\\HOST\\Thread(svchost/12#3)\\% Processor Time')).toBe('svchost/12#3');
    expect(pathInstance('\\System\\System Up Time')).toBe('');
    expect(pathInstance('\\LogicalDisk(C:)\\% Free Space')).toBe('C:');
  });
});
