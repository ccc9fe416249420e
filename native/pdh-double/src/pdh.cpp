// A test double of pdh.dll for the Wine tests: Wine 8 only stubs PdhGetFormattedCounterArrayW
// (calling it aborts the process), so the binding's wildcard reads (the PDH_FMT_COUNTERVALUE_ITEM_W
// layout and the PDH_MORE_DATA size loop) are run against this instead. Its structures come from
// mingw-w64's pdh.h, so the layout the binding decodes is the one C code gets.
//
// It has one object, `OMA Test`, with the counter `Value` and the instances the test sets
// (OmaPdhSetInstances); `\OMA Test(*)\Value` reads them all, `\OMA Test(name)\Value` one.
#include <windows.h>
#include <pdh.h>
#include <pdhmsg.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

namespace {

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

struct Instance {
  std::wstring name;
  double value;
};

struct Query;

struct Counter {
  Query *query = nullptr;
  std::wstring instance;  // "*" for every instance
  std::vector<Instance> sample;  // as of the last collection
  bool collected = false;
};

struct Query {
  std::vector<std::unique_ptr<Counter>> counters;
};

struct State {
  Mutex mutex;
  std::vector<Instance> instances;
  std::unordered_set<Query *> queries;
  std::unordered_set<Counter *> counters;
  std::map<std::string, std::uint64_t> calls;
  bool growOnNextSizeQuery = false;
};

State &state() {
  static State s;
  return s;
}

const std::wstring kPrefix = L"\\OMA Test(";
const std::wstring kSuffix = L")\\Value";

bool parsePath(const std::wstring &path, std::wstring &instance) {
  if (path.size() <= kPrefix.size() + kSuffix.size()) return false;
  if (path.compare(0, kPrefix.size(), kPrefix) != 0) return false;
  if (path.compare(path.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) return false;
  instance = path.substr(kPrefix.size(), path.size() - kPrefix.size() - kSuffix.size());
  return true;
}

void format(DWORD fmt, double v, PDH_FMT_COUNTERVALUE &out) {
  out.CStatus = PDH_CSTATUS_VALID_DATA;
  if ((fmt & PDH_FMT_LARGE) != 0) {
    out.largeValue = static_cast<LONGLONG>(v);
  } else if ((fmt & PDH_FMT_LONG) != 0) {
    out.longValue = static_cast<LONG>(v);
  } else {
    out.doubleValue = v;
  }
}

}  // namespace

extern "C" {

PDH_STATUS WINAPI PdhOpenQueryW(LPCWSTR dataSource, DWORD_PTR /*userData*/, PDH_HQUERY *query) {
  State &s = state();
  Guard lock(s.mutex);
  if (dataSource != nullptr || query == nullptr) return PDH_INVALID_ARGUMENT;
  auto q = std::make_unique<Query>();
  *query = q.get();
  s.queries.insert(q.release());
  return ERROR_SUCCESS;
}

PDH_STATUS WINAPI PdhAddEnglishCounterW(PDH_HQUERY query, LPCWSTR path, DWORD_PTR /*userData*/, PDH_HCOUNTER *counter) {
  State &s = state();
  Guard lock(s.mutex);
  auto *q = static_cast<Query *>(query);
  if (s.queries.count(q) == 0) return PDH_INVALID_HANDLE;
  if (path == nullptr || counter == nullptr) return PDH_INVALID_ARGUMENT;
  std::wstring instance;
  if (!parsePath(path, instance)) return PDH_CSTATUS_NO_COUNTER;
  auto c = std::make_unique<Counter>();
  c->query = q;
  c->instance = instance;
  *counter = c.get();
  s.counters.insert(c.get());
  q->counters.push_back(std::move(c));
  return ERROR_SUCCESS;
}

PDH_STATUS WINAPI PdhCollectQueryData(PDH_HQUERY query) {
  State &s = state();
  Guard lock(s.mutex);
  auto *q = static_cast<Query *>(query);
  if (s.queries.count(q) == 0) return PDH_INVALID_HANDLE;
  if (q->counters.empty()) return PDH_NO_DATA;
  for (auto &c : q->counters) {
    c->sample.clear();
    for (const auto &i : s.instances)
      if (c->instance == L"*" || c->instance == i.name) c->sample.push_back(i);
    c->collected = true;
  }
  return ERROR_SUCCESS;
}

PDH_STATUS WINAPI PdhGetFormattedCounterValue(PDH_HCOUNTER counter, DWORD fmt, LPDWORD type, PPDH_FMT_COUNTERVALUE value) {
  State &s = state();
  Guard lock(s.mutex);
  auto *c = static_cast<Counter *>(counter);
  if (s.counters.count(c) == 0) return PDH_INVALID_HANDLE;
  if (value == nullptr) return PDH_INVALID_ARGUMENT;
  if (type != nullptr) *type = 0;
  if (!c->collected || c->sample.empty()) {
    value->CStatus = PDH_CSTATUS_NO_INSTANCE;
    return PDH_INVALID_DATA;
  }
  format(fmt, c->sample.front().value, *value);
  return ERROR_SUCCESS;
}

// The documented contract: with a size too small (0 to ask), PDH_MORE_DATA and the bytes needed (the
// items, then their names); otherwise the items, each szName pointing into the same buffer.
PDH_STATUS WINAPI PdhGetFormattedCounterArrayW(PDH_HCOUNTER counter, DWORD fmt, LPDWORD bufferSize, LPDWORD itemCount,
                                               PPDH_FMT_COUNTERVALUE_ITEM_W items) {
  State &s = state();
  Guard lock(s.mutex);
  auto *c = static_cast<Counter *>(counter);
  if (s.counters.count(c) == 0) return PDH_INVALID_HANDLE;
  if (bufferSize == nullptr || itemCount == nullptr) return PDH_INVALID_ARGUMENT;
  if (!c->collected) return PDH_INVALID_DATA;
  DWORD needed = static_cast<DWORD>(c->sample.size() * sizeof(PDH_FMT_COUNTERVALUE_ITEM_W));
  for (const auto &i : c->sample) needed += static_cast<DWORD>((i.name.size() + 1) * sizeof(wchar_t));
  *itemCount = static_cast<DWORD>(c->sample.size());
  if (items == nullptr || *bufferSize < needed) {
    *bufferSize = needed;
    s.calls["more_data"]++;
    if (s.growOnNextSizeQuery) {
      // An instance appears between the size query and the fill: the next call needs more again.
      s.growOnNextSizeQuery = false;
      c->sample.push_back(Instance{L"late-instance-with-a-long-name", 42.5});
    }
    return PDH_MORE_DATA;
  }
  auto *names = reinterpret_cast<wchar_t *>(reinterpret_cast<char *>(items) + c->sample.size() * sizeof(PDH_FMT_COUNTERVALUE_ITEM_W));
  for (std::size_t k = 0; k < c->sample.size(); ++k) {
    const Instance &i = c->sample[k];
    std::memcpy(names, i.name.c_str(), (i.name.size() + 1) * sizeof(wchar_t));
    items[k].szName = names;
    format(fmt, i.value, items[k].FmtValue);
    names += i.name.size() + 1;
  }
  *bufferSize = needed;
  s.calls["filled"]++;
  return ERROR_SUCCESS;
}

PDH_STATUS WINAPI PdhRemoveCounter(PDH_HCOUNTER counter) {
  State &s = state();
  Guard lock(s.mutex);
  auto *c = static_cast<Counter *>(counter);
  if (s.counters.erase(c) == 0) return PDH_INVALID_HANDLE;
  auto &list = c->query->counters;
  for (auto it = list.begin(); it != list.end(); ++it) {
    if (it->get() == c) {
      list.erase(it);
      break;
    }
  }
  return ERROR_SUCCESS;
}

PDH_STATUS WINAPI PdhCloseQuery(PDH_HQUERY query) {
  State &s = state();
  Guard lock(s.mutex);
  auto *q = static_cast<Query *>(query);
  if (s.queries.erase(q) == 0) return PDH_INVALID_HANDLE;
  std::unique_ptr<Query> owned(q);
  for (auto &c : q->counters) s.counters.erase(c.get());
  return ERROR_SUCCESS;
}

// ---- control interface for the tests ----

// The instances of `OMA Test` from now on: `names` separated by '\n', one value each.
void WINAPI OmaPdhSetInstances(LPCWSTR names, const double *values, DWORD count) {
  State &s = state();
  Guard lock(s.mutex);
  s.instances.clear();
  std::wstring all = names == nullptr ? L"" : names;
  std::size_t start = 0;
  for (DWORD k = 0; k < count; ++k) {
    std::size_t end = all.find(L'\n', start);
    if (end == std::wstring::npos) end = all.size();
    s.instances.push_back(Instance{all.substr(start, end - start), values[k]});
    start = end + 1;
  }
}

// The next PDH_MORE_DATA answer of PdhGetFormattedCounterArrayW also adds an instance to the sample.
void WINAPI OmaPdhGrowOnNextSizeQuery() {
  State &s = state();
  Guard lock(s.mutex);
  s.growOnNextSizeQuery = true;
}

// "more_data": PDH_MORE_DATA answers of PdhGetFormattedCounterArrayW; "filled": filled buffers.
std::uint64_t WINAPI OmaPdhCounter(LPCSTR name) {
  State &s = state();
  Guard lock(s.mutex);
  const auto it = s.calls.find(name);
  return it == s.calls.end() ? 0 : it->second;
}

// Queries and counters not closed or removed yet.
DWORD WINAPI OmaPdhOpenHandles() {
  State &s = state();
  Guard lock(s.mutex);
  return static_cast<DWORD>(s.queries.size() + s.counters.size());
}

}  // extern "C"
