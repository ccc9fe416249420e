/**
 * The control interface of the test-double wevtapi.dll (native/wevtapi-double), called through
 * koffi. The double is the DLL named by OMA_WEVTAPI_DLL, the one the binding loads: Windows loads a
 * module once per process, so both see the same event store.
 */
import koffi from 'koffi';

export interface WevtapiDouble {
  createChannel(channel: string): void;
  /** Appends `count` events; `%ID%` in `xml` becomes each record id; `message` null: none. Returns the first record id. */
  append(channel: string, provider: string, xml: string, message: string | null, count?: number): number;
  clear(channel: string): void;
  openHandles(): number;
  counter(name: string): number;
  reset(): void;
}

export function loadDouble(): WevtapiDouble {
  const path = process.env.OMA_WEVTAPI_DLL;
  if (path === undefined || path === '') throw new Error('OMA_WEVTAPI_DLL names no test-double wevtapi.dll');
  const lib = koffi.load(path);
  const createChannel = lib.func('void __stdcall OmaTestCreateChannel(const char16_t *channel)') as (c: string) => void;
  const appendMany = lib.func(
    'uint64_t __stdcall OmaTestAppendMany(const char16_t *channel, const char16_t *provider, const char16_t *xml, const char16_t *message, uint32_t n)',
  ) as (c: string, p: string, x: string, m: string | null, n: number) => number | bigint;
  const clear = lib.func('void __stdcall OmaTestClear(const char16_t *channel)') as (c: string) => void;
  const openHandles = lib.func('uint32_t __stdcall OmaTestOpenHandles()') as () => number;
  const counter = lib.func('uint64_t __stdcall OmaTestCounter(const char *name)') as (n: string) => number | bigint;
  const reset = lib.func('void __stdcall OmaTestReset()') as () => void;
  return {
    createChannel,
    append: (channel, provider, xml, message, count = 1) => Number(appendMany(channel, provider, xml, message, count)),
    clear,
    openHandles,
    counter: (name) => Number(counter(name)),
    reset,
  };
}

/** An event's XML as Windows renders it, with `%ID%` for the record id and a body of `dataChars` characters. */
export function eventXml(provider: string, channel: string, eventId: number, dataChars = 0): string {
  const data = dataChars > 0 ? `<Data Name='Payload'>${'x'.repeat(dataChars)}</Data>` : `<Data Name='Param1'>value</Data>`;
  return (
    `<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='${provider}' Guid='{f0e1d2c3-b4a5-4697-8899-aabbccddeeff}'/>` +
    `<EventID Qualifiers='16384'>${eventId}</EventID><Version>0</Version><Level>4</Level><Task>0</Task><Opcode>0</Opcode><Keywords>0x80000000000000</Keywords>` +
    `<TimeCreated SystemTime='2026-12-03T10:00:00.000000000Z'/><EventRecordID>%ID%</EventRecordID><Correlation/><Execution ProcessID='1234' ThreadID='5678'/>` +
    `<Channel>${channel}</Channel><Computer>WINEHOST</Computer><Security UserID='S-1-5-18'/></System><EventData>${data}</EventData></Event>`
  );
}

/** The record id in a rendered event. */
export function recordId(xml: string): number {
  const m = /<EventRecordID>(\d+)<\/EventRecordID>/.exec(xml);
  if (m === null) throw new Error('no EventRecordID in the event XML');
  return Number(m[1]);
}
