// A test double of wevtapi.dll for the Wine tests (Wine implements no event log).
//
// It implements the documented contract of the wevtapi functions the agent's koffi binding calls:
// pull subscriptions with a signal event (EvtSubscribe, EvtNext), XML rendering of events and
// bookmarks with the BufferUsed / ERROR_INSUFFICIENT_BUFFER size contract (EvtRender), messages with
// the same contract in WCHARs (EvtFormatMessage, EvtOpenPublisherMetadata), bookmarks
// (EvtCreateBookmark, EvtUpdateBookmark) and EvtClose of every handle. Its events come from the
// OmaTest* functions the tests call through koffi. Every handle is counted so that a test can assert
// that the binding closed all of them.
#include <windows.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

// winevt.h's types, declared here so that its dllimport declarations do not clash with these exports.
using EVT_HANDLE = void *;
using PEVT_HANDLE = EVT_HANDLE *;
using EVT_SUBSCRIBE_CALLBACK = void *;
using PEVT_VARIANT = void *;

namespace {

constexpr DWORD kErrorEvtInvalidQuery = 15001;
constexpr DWORD kErrorEvtPublisherMetadataNotFound = 15002;
constexpr DWORD kErrorEvtChannelNotFound = 15007;
constexpr DWORD kErrorEvtMessageNotFound = 15027;

constexpr DWORD kSubscribeToFutureEvents = 1;
constexpr DWORD kSubscribeStartAtOldestRecord = 2;
constexpr DWORD kSubscribeStartAfterBookmark = 3;
constexpr DWORD kSubscribeOriginMask = 0x3;
constexpr DWORD kSubscribeStrict = 0x10000;

constexpr DWORD kRenderEventXml = 1;
constexpr DWORD kRenderBookmark = 2;
constexpr DWORD kFormatMessageEvent = 1;

// What an appended event carries; shared by the records of one OmaTestAppendMany.
struct Body {
  std::wstring provider;
  std::wstring xml;  // "%ID%" is replaced by the record id when rendered
  std::wstring message;
  bool hasMessage = false;
};

struct Record {
  std::uint64_t id;
  std::shared_ptr<const Body> body;
};

struct Subscription;

struct Channel {
  std::deque<Record> records;  // ascending ids
  std::uint64_t nextId = 1;
  std::set<Subscription *> subscriptions;
};

enum class Kind { Subscription, Event, Bookmark, Publisher };

struct Object {
  explicit Object(Kind k) : kind(k) {}
  virtual ~Object() = default;
  Object(const Object &) = delete;
  Object &operator=(const Object &) = delete;
  const Kind kind;
};

struct Subscription final : Object {
  Subscription() : Object(Kind::Subscription) {}
  std::wstring channel;
  HANDLE signal = nullptr;
  std::uint64_t position = 0;  // the next record id to deliver
};

struct Event final : Object {
  Event() : Object(Kind::Event) {}
  std::wstring channel;
  std::uint64_t id = 0;
  std::shared_ptr<const Body> body;
};

struct Bookmark final : Object {
  Bookmark() : Object(Kind::Bookmark) {}
  std::wstring channel;
  std::uint64_t id = 0;  // 0: no position yet
};

struct Publisher final : Object {
  Publisher() : Object(Kind::Publisher) {}
  std::wstring provider;
};

// A Win32 slim reader/writer lock (mingw-w64's default thread model has no std::mutex).
class Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex &) = delete;
  Mutex &operator=(const Mutex &) = delete;
  void lock() { AcquireSRWLockExclusive(&lock_); }
  void unlock() { ReleaseSRWLockExclusive(&lock_); }

 private:
  SRWLOCK lock_ = SRWLOCK_INIT;
};

class Guard {
 public:
  explicit Guard(Mutex &m) : m_(m) { m_.lock(); }
  ~Guard() { m_.unlock(); }
  Guard(const Guard &) = delete;
  Guard &operator=(const Guard &) = delete;

 private:
  Mutex &m_;
};

struct State {
  Mutex mutex;
  std::map<std::wstring, Channel> channels;
  std::set<std::wstring> publishers;
  std::unordered_set<Object *> handles;
  std::map<std::string, std::uint64_t> counters;
};

std::wstring widen(const std::string &utf8) {
  if (utf8.empty()) return {};
  const int n = MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), nullptr, 0);
  std::wstring out(static_cast<std::size_t>(n), L'\0');
  MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), out.data(), n);
  return out;
}

// Closes a FILE* when it goes out of scope.
struct FileCloser {
  void operator()(FILE *f) const { fclose(f); }
};

void appendRecords(State &s, const std::wstring &channel, const std::wstring &provider, const std::wstring &xml, const wchar_t *message, DWORD n);

// Events of the file named by OMA_WEVTAPI_DOUBLE_SEED, loaded when the DLL is first used: for a
// process that the test does not drive itself (the agent under Wine). One event per line, UTF-8:
// channel TAB provider TAB message (empty: none) TAB xml.
void loadSeed(State &s) {
  wchar_t path[MAX_PATH];
  const DWORD len = GetEnvironmentVariableW(L"OMA_WEVTAPI_DOUBLE_SEED", path, MAX_PATH);
  if (len == 0 || len >= MAX_PATH) return;
  std::unique_ptr<FILE, FileCloser> f(_wfopen(path, L"rb"));
  if (!f) return;
  std::string text;
  char chunk[65536];
  for (std::size_t n; (n = fread(chunk, 1, sizeof chunk, f.get())) > 0;) text.append(chunk, n);
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::vector<std::string> fields;
    std::size_t from = 0;
    for (int i = 0; i < 3; ++i) {
      const std::size_t tab = line.find('\t', from);
      if (tab == std::string::npos) break;
      fields.push_back(line.substr(from, tab - from));
      from = tab + 1;
    }
    if (fields.size() != 3) continue;
    fields.push_back(line.substr(from));
    const std::wstring message = widen(fields[2]);
    appendRecords(s, widen(fields[0]), widen(fields[1]), widen(fields[3]), message.empty() ? nullptr : message.c_str(), 1);
  }
}

State &state() {
  static State s;
  static const bool seeded = (loadSeed(s), true);
  (void)seeded;
  return s;
}

// Owns a new handle until it is registered in the handle table.
template <typename T>
T *registerHandle(State &s, std::unique_ptr<T> object) {
  T *raw = object.get();
  s.handles.insert(raw);
  object.release();
  return raw;
}

template <typename T>
T *lookup(State &s, EVT_HANDLE h, Kind kind) {
  auto *object = static_cast<Object *>(h);
  if (object == nullptr || s.handles.count(object) == 0 || object->kind != kind) return nullptr;
  return static_cast<T *>(object);
}

BOOL fail(DWORD error) {
  SetLastError(error);
  return FALSE;
}

EVT_HANDLE failHandle(DWORD error) {
  SetLastError(error);
  return nullptr;
}

void count(State &s, const char *name, std::uint64_t by = 1) { s.counters[name] += by; }

std::wstring render(const Record &r) {
  static const std::wstring token = L"%ID%";
  std::wstring out = r.body->xml;
  const std::wstring id = std::to_wstring(r.id);
  for (std::size_t at = out.find(token); at != std::wstring::npos; at = out.find(token, at + id.size())) out.replace(at, token.size(), id);
  return out;
}

std::wstring escapeAttr(const std::wstring &v) {
  std::wstring out;
  for (wchar_t c : v) {
    switch (c) {
      case L'&': out += L"&amp;"; break;
      case L'<': out += L"&lt;"; break;
      case L'\'': out += L"&apos;"; break;
      case L'"': out += L"&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::wstring unescapeAttr(const std::wstring &v) {
  std::wstring out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] != L'&') {
      out += v[i];
      continue;
    }
    static const std::pair<const wchar_t *, wchar_t> entities[] = {{L"&amp;", L'&'}, {L"&lt;", L'<'}, {L"&gt;", L'>'}, {L"&apos;", L'\''}, {L"&quot;", L'"'}};
    bool matched = false;
    for (const auto &[name, ch] : entities) {
      const std::size_t n = wcslen(name);
      if (v.compare(i, n, name) == 0) {
        out += ch;
        i += n - 1;
        matched = true;
        break;
      }
    }
    if (!matched) out += v[i];
  }
  return out;
}

// The value of attribute `name` in `xml` (either quote), or false when it is absent.
bool attribute(const std::wstring &xml, const std::wstring &name, std::wstring &value) {
  for (std::size_t at = xml.find(name + L"="); at != std::wstring::npos; at = xml.find(name + L"=", at + 1)) {
    if (at > 0 && !iswspace(xml[at - 1])) continue;
    const std::size_t q = at + name.size() + 1;
    if (q >= xml.size() || (xml[q] != L'\'' && xml[q] != L'"')) continue;
    const std::size_t end = xml.find(xml[q], q + 1);
    if (end == std::wstring::npos) return false;
    value = unescapeAttr(xml.substr(q + 1, end - q - 1));
    return true;
  }
  return false;
}

std::wstring bookmarkXml(const Bookmark &b) {
  if (b.id == 0) return L"<BookmarkList>\r\n</BookmarkList>";
  return L"<BookmarkList>\r\n  <Bookmark Channel='" + escapeAttr(b.channel) + L"' RecordId='" + std::to_wstring(b.id) +
         L"' IsCurrent='true'/>\r\n</BookmarkList>";
}

// The size contract of EvtRender (bytes) and EvtFormatMessage (WCHARs): the size with the NUL is
// always reported; the text is copied only when it fits.
BOOL deliver(const std::wstring &text, DWORD capacity, void *buffer, DWORD *used, bool inBytes) {
  const DWORD units = static_cast<DWORD>(text.size() + 1);
  const DWORD needed = inBytes ? units * sizeof(wchar_t) : units;
  if (used != nullptr) *used = needed;
  if (buffer == nullptr || capacity < needed) return fail(ERROR_INSUFFICIENT_BUFFER);
  std::memcpy(buffer, text.c_str(), units * sizeof(wchar_t));
  return TRUE;
}

bool channelOf(const wchar_t *channelPath, const wchar_t *query, std::wstring &channel) {
  if (channelPath != nullptr) {
    channel = channelPath;
    return true;
  }
  // A structured query names its channel in <Select Path='…'>.
  return query != nullptr && attribute(query, L"Path", channel);
}

bool validQuery(const wchar_t *query) {
  if (query == nullptr) return true;
  const std::wstring q = query;
  return q == L"*" || q.rfind(L"*[", 0) == 0 || q.rfind(L"<QueryList", 0) == 0;
}

std::uint64_t oldest(const Channel &c) { return c.records.empty() ? c.nextId : c.records.front().id; }

bool contains(const Channel &c, std::uint64_t id) {
  const auto it = std::lower_bound(c.records.begin(), c.records.end(), id, [](const Record &r, std::uint64_t v) { return r.id < v; });
  return it != c.records.end() && it->id == id;
}

void signalIfAvailable(const Channel &c, const Subscription &sub) {
  if (!c.records.empty() && c.records.back().id >= sub.position) SetEvent(sub.signal);
}

void appendRecords(State &s, const std::wstring &channel, const std::wstring &provider, const std::wstring &xml, const wchar_t *message, DWORD n) {
  auto body = std::make_shared<Body>();
  body->provider = provider;
  body->xml = xml;
  body->hasMessage = message != nullptr;
  if (message != nullptr) body->message = message;
  s.publishers.insert(provider);
  Channel &c = s.channels[channel];
  for (DWORD i = 0; i < n; ++i) c.records.push_back(Record{c.nextId++, body});
  for (Subscription *sub : c.subscriptions) signalIfAvailable(c, *sub);
}

}  // namespace

extern "C" {

__declspec(dllexport) EVT_HANDLE WINAPI EvtSubscribe(EVT_HANDLE session, HANDLE signalEvent, LPCWSTR channelPath, LPCWSTR query,
                                                      EVT_HANDLE bookmark, PVOID /*context*/, EVT_SUBSCRIBE_CALLBACK callback, DWORD flags) {
  State &s = state();
  Guard lock(s.mutex);
  count(s, "EvtSubscribe");
  // The double is local and pull-only: a session or a callback is not what the binding does.
  if (session != nullptr || callback != nullptr || signalEvent == nullptr) return failHandle(ERROR_INVALID_PARAMETER);
  if (!validQuery(query)) return failHandle(kErrorEvtInvalidQuery);
  std::wstring name;
  if (!channelOf(channelPath, query, name)) return failHandle(ERROR_INVALID_PARAMETER);
  const auto channel = s.channels.find(name);
  if (channel == s.channels.end()) return failHandle(kErrorEvtChannelNotFound);
  Channel &c = channel->second;

  auto sub = std::make_unique<Subscription>();
  sub->channel = name;
  sub->signal = signalEvent;
  switch (flags & kSubscribeOriginMask) {
    case kSubscribeToFutureEvents: sub->position = c.nextId; break;
    case kSubscribeStartAtOldestRecord: sub->position = oldest(c); break;
    case kSubscribeStartAfterBookmark: {
      const auto *b = lookup<Bookmark>(s, bookmark, Kind::Bookmark);
      if (b == nullptr) return failHandle(ERROR_INVALID_HANDLE);
      if (b->id != 0 && b->channel == name && contains(c, b->id)) {
        sub->position = b->id + 1;
      } else if ((flags & kSubscribeStrict) != 0) {
        return failHandle(ERROR_NOT_FOUND);
      } else {
        sub->position = oldest(c);
      }
      break;
    }
    default: return failHandle(ERROR_INVALID_PARAMETER);
  }
  Subscription *raw = registerHandle(s, std::move(sub));
  c.subscriptions.insert(raw);
  signalIfAvailable(c, *raw);
  return raw;
}

__declspec(dllexport) BOOL WINAPI EvtNext(EVT_HANDLE resultSet, DWORD eventsSize, PEVT_HANDLE events, DWORD /*timeout*/, DWORD flags,
                                          PDWORD returned) {
  State &s = state();
  Guard lock(s.mutex);
  count(s, "EvtNext");
  if (returned != nullptr) *returned = 0;
  auto *sub = lookup<Subscription>(s, resultSet, Kind::Subscription);
  if (sub == nullptr) return fail(ERROR_INVALID_HANDLE);
  if (events == nullptr || returned == nullptr || eventsSize == 0 || flags != 0) return fail(ERROR_INVALID_PARAMETER);
  Channel &c = s.channels[sub->channel];
  auto it = std::lower_bound(c.records.begin(), c.records.end(), sub->position, [](const Record &r, std::uint64_t v) { return r.id < v; });
  DWORD n = 0;
  for (; it != c.records.end() && n < eventsSize; ++it, ++n) {
    auto e = std::make_unique<Event>();
    e->channel = sub->channel;
    e->id = it->id;
    e->body = it->body;
    events[n] = registerHandle(s, std::move(e));
    sub->position = it->id + 1;
  }
  if (n == 0) return fail(ERROR_NO_MORE_ITEMS);
  *returned = n;
  count(s, "events", n);
  return TRUE;
}

__declspec(dllexport) BOOL WINAPI EvtRender(EVT_HANDLE context, EVT_HANDLE fragment, DWORD flags, DWORD bufferSize, PVOID buffer,
                                            PDWORD bufferUsed, PDWORD propertyCount) {
  State &s = state();
  Guard lock(s.mutex);
  if (bufferUsed == nullptr || propertyCount == nullptr) return fail(ERROR_INVALID_PARAMETER);
  *propertyCount = 0;
  if (context != nullptr) return fail(ERROR_INVALID_PARAMETER);  // render contexts are for EvtRenderEventValues
  std::wstring text;
  if (flags == kRenderEventXml) {
    const auto *e = lookup<Event>(s, fragment, Kind::Event);
    if (e == nullptr) return fail(ERROR_INVALID_HANDLE);
    text = render(Record{e->id, e->body});
  } else if (flags == kRenderBookmark) {
    const auto *b = lookup<Bookmark>(s, fragment, Kind::Bookmark);
    if (b == nullptr) return fail(ERROR_INVALID_HANDLE);
    text = bookmarkXml(*b);
  } else {
    return fail(ERROR_INVALID_PARAMETER);
  }
  const BOOL ok = deliver(text, bufferSize, buffer, bufferUsed, true);
  count(s, ok ? "EvtRender" : "EvtRender.insufficient");
  return ok;
}

__declspec(dllexport) BOOL WINAPI EvtFormatMessage(EVT_HANDLE publisherMetadata, EVT_HANDLE event, DWORD /*messageId*/, DWORD valueCount,
                                                   PEVT_VARIANT values, DWORD flags, DWORD bufferSize, LPWSTR buffer, PDWORD bufferUsed) {
  State &s = state();
  Guard lock(s.mutex);
  if (bufferUsed == nullptr || flags != kFormatMessageEvent || valueCount != 0 || values != nullptr) return fail(ERROR_INVALID_PARAMETER);
  const auto *p = lookup<Publisher>(s, publisherMetadata, Kind::Publisher);
  const auto *e = lookup<Event>(s, event, Kind::Event);
  if (p == nullptr || e == nullptr) return fail(ERROR_INVALID_HANDLE);
  if (!e->body->hasMessage || e->body->provider != p->provider) {
    *bufferUsed = 0;
    return fail(kErrorEvtMessageNotFound);
  }
  const BOOL ok = deliver(e->body->message, bufferSize, buffer, bufferUsed, false);
  count(s, ok ? "EvtFormatMessage" : "EvtFormatMessage.insufficient");
  return ok;
}

__declspec(dllexport) EVT_HANDLE WINAPI EvtOpenPublisherMetadata(EVT_HANDLE session, LPCWSTR publisherId, LPCWSTR logFilePath, LCID /*locale*/,
                                                                 DWORD flags) {
  State &s = state();
  Guard lock(s.mutex);
  count(s, "EvtOpenPublisherMetadata");
  if (session != nullptr || logFilePath != nullptr || flags != 0 || publisherId == nullptr) return failHandle(ERROR_INVALID_PARAMETER);
  if (s.publishers.count(publisherId) == 0) return failHandle(kErrorEvtPublisherMetadataNotFound);
  auto p = std::make_unique<Publisher>();
  p->provider = publisherId;
  return registerHandle(s, std::move(p));
}

__declspec(dllexport) EVT_HANDLE WINAPI EvtCreateBookmark(LPCWSTR bookmarkXml) {
  State &s = state();
  Guard lock(s.mutex);
  auto b = std::make_unique<Bookmark>();
  if (bookmarkXml != nullptr) {
    const std::wstring xml = bookmarkXml;
    std::wstring channel, id;
    if (xml.find(L"<BookmarkList") == std::wstring::npos) return failHandle(ERROR_INVALID_PARAMETER);
    if (attribute(xml, L"Channel", channel) && attribute(xml, L"RecordId", id)) {
      b->channel = channel;
      b->id = std::wcstoull(id.c_str(), nullptr, 10);
      if (b->id == 0) return failHandle(ERROR_INVALID_PARAMETER);
    }
  }
  return registerHandle(s, std::move(b));
}

__declspec(dllexport) BOOL WINAPI EvtUpdateBookmark(EVT_HANDLE bookmark, EVT_HANDLE event) {
  State &s = state();
  Guard lock(s.mutex);
  auto *b = lookup<Bookmark>(s, bookmark, Kind::Bookmark);
  const auto *e = lookup<Event>(s, event, Kind::Event);
  if (b == nullptr || e == nullptr) return fail(ERROR_INVALID_HANDLE);
  b->channel = e->channel;
  b->id = e->id;
  return TRUE;
}

__declspec(dllexport) BOOL WINAPI EvtClose(EVT_HANDLE object) {
  State &s = state();
  Guard lock(s.mutex);
  auto *o = static_cast<Object *>(object);
  if (o == nullptr || s.handles.erase(o) == 0) return fail(ERROR_INVALID_HANDLE);
  std::unique_ptr<Object> owned(o);
  if (o->kind == Kind::Subscription) {
    auto *sub = static_cast<Subscription *>(o);
    const auto c = s.channels.find(sub->channel);
    if (c != s.channels.end()) c->second.subscriptions.erase(sub);
  }
  return TRUE;
}

// ---- control interface for the tests ----

// Creates `channel` (empty) when it does not exist.
__declspec(dllexport) void WINAPI OmaTestCreateChannel(LPCWSTR channel) {
  State &s = state();
  Guard lock(s.mutex);
  s.channels[channel];
}

// Appends `n` events to `channel` (created when missing) from `provider`, with `xml` ("%ID%" becomes
// the record id) and `message` (NULL: the publisher has no message for them), and sets the signal
// of every subscription to the channel. Returns the first record id.
__declspec(dllexport) std::uint64_t WINAPI OmaTestAppendMany(LPCWSTR channel, LPCWSTR provider, LPCWSTR xml, LPCWSTR message, DWORD n) {
  State &s = state();
  Guard lock(s.mutex);
  const std::uint64_t first = s.channels[channel].nextId;
  appendRecords(s, channel, provider, xml, message, n);
  return first;
}

__declspec(dllexport) std::uint64_t WINAPI OmaTestAppend(LPCWSTR channel, LPCWSTR provider, LPCWSTR xml, LPCWSTR message) {
  return OmaTestAppendMany(channel, provider, xml, message, 1);
}

// Removes every event of `channel`, as clearing a log does; record ids go on from where they were.
__declspec(dllexport) void WINAPI OmaTestClear(LPCWSTR channel) {
  State &s = state();
  Guard lock(s.mutex);
  const auto c = s.channels.find(channel);
  if (c != s.channels.end()) c->second.records.clear();
}

// Handles returned by the Evt* functions and not closed yet.
__declspec(dllexport) DWORD WINAPI OmaTestOpenHandles() {
  State &s = state();
  Guard lock(s.mutex);
  return static_cast<DWORD>(s.handles.size());
}

// How often `name` happened: a function's name (successful calls), "<function>.insufficient"
// (calls answered ERROR_INSUFFICIENT_BUFFER), "events" (handles EvtNext returned).
__declspec(dllexport) std::uint64_t WINAPI OmaTestCounter(LPCSTR name) {
  State &s = state();
  Guard lock(s.mutex);
  const auto it = s.counters.find(name);
  return it == s.counters.end() ? 0 : it->second;
}

// Forgets every channel, publisher and counter (handles stay: the test asserts on them).
__declspec(dllexport) void WINAPI OmaTestReset() {
  State &s = state();
  Guard lock(s.mutex);
  s.channels.clear();
  s.publishers.clear();
  s.counters.clear();
}

}  // extern "C"
