// The systemd journal through libsystemd.so.0, opened with dlopen when a journal is first opened:
// the addon loads on a host without libsystemd and says so only when asked to read a journal.
//
// One crossing per batch: `read` fills the caller's Buffer with the selected fields of up to N
// entries (plus each entry's cursor) and writes offsets/lengths into the caller's Uint32Arrays and
// the timestamps into a Float64Array. Waiting for new entries runs on a native thread that polls the
// journal's inotify fd (sd_journal_get_fd) and reports through a ThreadSafeFunction. An sd_journal
// is not thread-safe, so that thread never calls into it: the JS thread calls `process`
// (sd_journal_process) once the wait reports, as sd_journal_wait would do internally.
//
// Errors are returned as negative errno values (TS maps them); only programmer errors throw.

#include <napi.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

// --- libsystemd, declared here (no -dev headers needed) -------------------------------------------

struct sd_journal;
struct sd_id128_t {
  uint8_t bytes[16];
};

struct SdApi {
  int (*open)(sd_journal **, int);
  int (*open_directory)(sd_journal **, const char *, int);
  int (*open_files)(sd_journal **, const char **, int);
  void (*close)(sd_journal *);
  int (*add_match)(sd_journal *, const void *, size_t);
  int (*add_disjunction)(sd_journal *);
  int (*add_conjunction)(sd_journal *);
  int (*seek_head)(sd_journal *);
  int (*seek_tail)(sd_journal *);
  int (*seek_cursor)(sd_journal *, const char *);
  int (*test_cursor)(sd_journal *, const char *);
  int (*next)(sd_journal *);
  int (*previous)(sd_journal *);
  int (*get_data)(sd_journal *, const char *, const void **, size_t *);
  int (*enumerate_data)(sd_journal *, const void **, size_t *);
  void (*restart_data)(sd_journal *);
  int (*get_cursor)(sd_journal *, char **);
  int (*get_realtime_usec)(sd_journal *, uint64_t *);
  int (*get_monotonic_usec)(sd_journal *, uint64_t *, sd_id128_t *);
  int (*set_data_threshold)(sd_journal *, size_t);
  int (*get_fd)(sd_journal *);
  int (*get_events)(sd_journal *);
  int (*process)(sd_journal *);
};

SdApi sd;
bool sdLoaded = false;
std::string sdError;

// Loads libsystemd.so.0 once; false (and sdError set) when it is missing or lacks a symbol.
bool LoadLibsystemd() {
  if (sdLoaded) return true;
  if (!sdError.empty()) return false;
  void *h = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr) {
    const char *e = dlerror();
    sdError = std::string("libsystemd.so.0 not found: ") + (e != nullptr ? e : "dlopen failed");
    return false;
  }
  bool ok = true;
  auto sym = [&](const char *name) -> void * {
    void *p = dlsym(h, name);
    if (p == nullptr && ok) {
      ok = false;
      sdError = std::string("libsystemd.so.0 lacks ") + name;
    }
    return p;
  };
#define SD_SYM(field, name) sd.field = reinterpret_cast<decltype(sd.field)>(sym(name))
  SD_SYM(open, "sd_journal_open");
  SD_SYM(open_directory, "sd_journal_open_directory");
  SD_SYM(open_files, "sd_journal_open_files");
  SD_SYM(close, "sd_journal_close");
  SD_SYM(add_match, "sd_journal_add_match");
  SD_SYM(add_disjunction, "sd_journal_add_disjunction");
  SD_SYM(add_conjunction, "sd_journal_add_conjunction");
  SD_SYM(seek_head, "sd_journal_seek_head");
  SD_SYM(seek_tail, "sd_journal_seek_tail");
  SD_SYM(seek_cursor, "sd_journal_seek_cursor");
  SD_SYM(test_cursor, "sd_journal_test_cursor");
  SD_SYM(next, "sd_journal_next");
  SD_SYM(previous, "sd_journal_previous");
  SD_SYM(get_data, "sd_journal_get_data");
  SD_SYM(enumerate_data, "sd_journal_enumerate_data");
  SD_SYM(restart_data, "sd_journal_restart_data");
  SD_SYM(get_cursor, "sd_journal_get_cursor");
  SD_SYM(get_realtime_usec, "sd_journal_get_realtime_usec");
  SD_SYM(get_monotonic_usec, "sd_journal_get_monotonic_usec");
  SD_SYM(set_data_threshold, "sd_journal_set_data_threshold");
  SD_SYM(get_fd, "sd_journal_get_fd");
  SD_SYM(get_events, "sd_journal_get_events");
  SD_SYM(process, "sd_journal_process");
#undef SD_SYM
  if (!ok) {
    dlclose(h);
    return false;
  }
  sdLoaded = true;  // kept loaded for the life of the process
  return true;
}

// Owns an open sd_journal.
class JournalHandle {
 public:
  JournalHandle() = default;
  JournalHandle(const JournalHandle &) = delete;
  JournalHandle &operator=(const JournalHandle &) = delete;
  ~JournalHandle() { Reset(); }
  sd_journal *get() const { return j_; }
  sd_journal **out() { return &j_; }
  void Reset() {
    if (j_ != nullptr) sd.close(j_);
    j_ = nullptr;
  }

 private:
  sd_journal *j_ = nullptr;
};

// Owns a file descriptor.
class Fd {
 public:
  Fd() = default;
  Fd(const Fd &) = delete;
  Fd &operator=(const Fd &) = delete;
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  void Reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

constexpr uint32_t ABSENT = 0xFFFFFFFFu;
// Per-entry flag bits (the `flags` Uint8Array).
constexpr uint8_t FLAG_TRUNCATED = 1;  // a field was longer than maxFieldBytes and was cut
constexpr uint8_t FLAG_BAD_FIELD = 2;  // a field could not be read (corrupt data object)

// Waits for changes to a journal on its own thread: polls the journal's fd (and a pipe that stops
// it) for up to the armed timeout, then reports once through the TSFN and waits to be armed again.
class Waiter {
 public:
  Waiter() = default;
  Waiter(const Waiter &) = delete;
  Waiter &operator=(const Waiter &) = delete;

  int Start(Napi::Env env, Napi::Function cb, int fd, int events) {
    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return -errno;
    wakeRead_.Reset(p[0]);
    wakeWrite_.Reset(p[1]);
    fd_ = fd;
    events_ = static_cast<short>(events);
    tsfn_ = Napi::ThreadSafeFunction::New(env, cb, "oma-journal-wait", 0, 1);
    running_ = true;
    thread_ = std::thread([this] { Run(); });
    return 0;
  }

  bool running() const { return running_; }

  // Asks for one report: after `timeoutMs`, or earlier when the journal's fd is readable.
  void Arm(int timeoutMs) {
    std::lock_guard<std::mutex> lock(mu_);
    armedMs_ = timeoutMs;
    armed_ = true;
    cv_.notify_one();
  }

  void Stop() {
    if (!running_) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      cv_.notify_one();
    }
    char b = 1;
    ssize_t w = write(wakeWrite_.get(), &b, 1);
    (void)w;
    thread_.join();
    tsfn_.Release();
    running_ = false;
    wakeRead_.Reset();
    wakeWrite_.Reset();
  }

  ~Waiter() { Stop(); }

 private:
  void Run() {
    for (;;) {
      int timeoutMs;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return armed_ || stopping_; });
        if (stopping_) return;
        armed_ = false;
        timeoutMs = armedMs_;
      }
      struct pollfd fds[2];
      fds[0].fd = fd_;
      fds[0].events = events_;
      fds[0].revents = 0;
      fds[1].fd = wakeRead_.get();
      fds[1].events = POLLIN;
      fds[1].revents = 0;
      int r;
      do {
        r = poll(fds, 2, timeoutMs);
      } while (r < 0 && errno == EINTR);
      if (fds[1].revents != 0) return;  // stopping
      // 1: the journal changed; 0: timed out; negative errno: poll failed.
      int result = r < 0 ? -errno : (r > 0 ? 1 : 0);
      napi_status st = tsfn_.BlockingCall([result](Napi::Env env, Napi::Function js) {
        js.Call({Napi::Number::New(env, result)});
      });
      if (st != napi_ok) return;  // the environment is going away
    }
  }

  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false;
  bool stopping_ = false;
  int armedMs_ = 0;
  bool running_ = false;
  int fd_ = -1;
  short events_ = POLLIN;
  Fd wakeRead_;
  Fd wakeWrite_;
  Napi::ThreadSafeFunction tsfn_;
};

class Journal : public Napi::ObjectWrap<Journal> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Journal",
                       {
                           InstanceMethod<&Journal::OpenSystem>("openSystem"),
                           InstanceMethod<&Journal::OpenDirectory>("openDirectory"),
                           InstanceMethod<&Journal::OpenFiles>("openFiles"),
                           InstanceMethod<&Journal::AddMatch>("addMatch"),
                           InstanceMethod<&Journal::AddDisjunction>("addDisjunction"),
                           InstanceMethod<&Journal::AddConjunction>("addConjunction"),
                           InstanceMethod<&Journal::SetFields>("setFields"),
                           InstanceMethod<&Journal::SeekHead>("seekHead"),
                           InstanceMethod<&Journal::SeekTail>("seekTail"),
                           InstanceMethod<&Journal::SeekCursor>("seekCursor"),
                           InstanceMethod<&Journal::Read>("read"),
                           InstanceMethod<&Journal::Process>("process"),
                           InstanceMethod<&Journal::StartWait>("startWait"),
                           InstanceMethod<&Journal::ArmWait>("armWait"),
                           InstanceMethod<&Journal::Close>("close"),
                       });
  }

  explicit Journal(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Journal>(info) {}
  ~Journal() override { Shutdown(); }

 private:
  void Shutdown() {
    waiter_.Stop();
    if (sdLoaded) j_.Reset();
  }

  // Throws for a call on a closed or unopened journal; true when usable.
  bool Ready(const Napi::CallbackInfo &info) {
    if (j_.get() != nullptr) return true;
    Napi::Error::New(info.Env(), "journal is not open").ThrowAsJavaScriptException();
    return false;
  }

  // Throws when libsystemd cannot be loaded or a journal is already open; true when it may open.
  bool CanOpen(const Napi::CallbackInfo &info) {
    if (j_.get() != nullptr) {
      Napi::Error::New(info.Env(), "journal is already open").ThrowAsJavaScriptException();
      return false;
    }
    if (!LoadLibsystemd()) {
      Napi::Error e = Napi::Error::New(info.Env(), sdError);
      e.Set("code", Napi::String::New(info.Env(), "OMA_ERR_JOURNAL_LIBSYSTEMD"));
      e.ThrowAsJavaScriptException();
      return false;
    }
    return true;
  }

  Napi::Value Prepare(Napi::Env env, int r) {
    if (r >= 0) {
      // Fields are cut at maxFieldBytes here; let libsystemd hand over whole fields.
      sd.set_data_threshold(j_.get(), 0);
    } else {
      j_.Reset();
    }
    return Napi::Number::New(env, r < 0 ? r : 0);
  }

  // openSystem(flags) -> 0 | -errno
  Napi::Value OpenSystem(const Napi::CallbackInfo &info) {
    if (!CanOpen(info)) return info.Env().Undefined();
    int flags = info[0].As<Napi::Number>().Int32Value();
    return Prepare(info.Env(), sd.open(j_.out(), flags));
  }

  // openDirectory(path, flags) -> 0 | -errno
  Napi::Value OpenDirectory(const Napi::CallbackInfo &info) {
    if (!CanOpen(info)) return info.Env().Undefined();
    std::string path = info[0].As<Napi::String>().Utf8Value();
    int flags = info[1].As<Napi::Number>().Int32Value();
    return Prepare(info.Env(), sd.open_directory(j_.out(), path.c_str(), flags));
  }

  // openFiles(paths[]) -> 0 | -errno
  Napi::Value OpenFiles(const Napi::CallbackInfo &info) {
    if (!CanOpen(info)) return info.Env().Undefined();
    Napi::Array arr = info[0].As<Napi::Array>();
    std::vector<std::string> paths;
    for (uint32_t i = 0; i < arr.Length(); i++) paths.push_back(arr.Get(i).As<Napi::String>().Utf8Value());
    std::vector<const char *> ptrs;
    for (auto &p : paths) ptrs.push_back(p.c_str());
    ptrs.push_back(nullptr);
    return Prepare(info.Env(), sd.open_files(j_.out(), ptrs.data(), 0));
  }

  // addMatch(Buffer "FIELD=value") -> 0 | -errno
  Napi::Value AddMatch(const Napi::CallbackInfo &info) {
    if (!Ready(info)) return info.Env().Undefined();
    Napi::Buffer<uint8_t> m = info[0].As<Napi::Buffer<uint8_t>>();
    return Napi::Number::New(info.Env(), sd.add_match(j_.get(), m.Data(), m.Length()));
  }

  Napi::Value AddDisjunction(const Napi::CallbackInfo &info) {
    if (!Ready(info)) return info.Env().Undefined();
    return Napi::Number::New(info.Env(), sd.add_disjunction(j_.get()));
  }

  Napi::Value AddConjunction(const Napi::CallbackInfo &info) {
    if (!Ready(info)) return info.Env().Undefined();
    return Napi::Number::New(info.Env(), sd.add_conjunction(j_.get()));
  }

  // setFields(names[], maxFieldBytes): the fields `read` copies, in this order.
  Napi::Value SetFields(const Napi::CallbackInfo &info) {
    Napi::Array arr = info[0].As<Napi::Array>();
    fields_.clear();
    for (uint32_t i = 0; i < arr.Length(); i++) fields_.push_back(arr.Get(i).As<Napi::String>().Utf8Value());
    maxFieldBytes_ = info[1].As<Napi::Number>().Uint32Value();
    return info.Env().Undefined();
  }

  Napi::Value SeekHead(const Napi::CallbackInfo &info) {
    if (!Ready(info)) return info.Env().Undefined();
    pending_ = false;
    skipCursor_.clear();
    return Napi::Number::New(info.Env(), sd.seek_head(j_.get()));
  }

  // Positions after the newest entry: only entries added later are read.
  Napi::Value SeekTail(const Napi::CallbackInfo &info) {
    if (!Ready(info)) return info.Env().Undefined();
    pending_ = false;
    skipCursor_.clear();
    int r = sd.seek_tail(j_.get());
    // On the newest entry, which was read "before": next() moves past it to the first new one.
    if (r >= 0) r = sd.previous(j_.get());
    return Napi::Number::New(info.Env(), r < 0 ? r : 0);
  }

  // Positions at a cursor; the entry at the cursor itself (already read) is skipped by the next read.
  Napi::Value SeekCursor(const Napi::CallbackInfo &info) {
    if (!Ready(info)) return info.Env().Undefined();
    pending_ = false;
    std::string c = info[0].As<Napi::String>().Utf8Value();
    int r = sd.seek_cursor(j_.get(), c.c_str());
    skipCursor_ = r >= 0 ? c : std::string();
    return Napi::Number::New(info.Env(), r);
  }

  // Copies `len` bytes into the slab at `*pos` if they fit.
  static bool Put(uint8_t *slab, size_t cap, size_t *pos, const void *p, size_t len) {
    if (*pos + len > cap) return false;
    if (len > 0) memcpy(slab + *pos, p, len);
    *pos += len;
    return true;
  }

  // Copies the current entry into the slab; false when it does not fit in what is left.
  bool CopyEntry(uint8_t *slab, size_t cap, size_t *pos, uint32_t *offsets, uint32_t *lengths, double *times,
                 uint8_t *flags, uint32_t n, int *err) {
    const size_t stride = fields_.size() + 1;
    size_t start = *pos;
    uint8_t fl = 0;
    char *cursor = nullptr;
    int r = sd.get_cursor(j_.get(), &cursor);
    if (r < 0) {
      *err = r;
      return false;
    }
    size_t clen = strlen(cursor);
    bool fits = Put(slab, cap, pos, cursor, clen);
    free(cursor);
    if (!fits) {
      *pos = start;
      return false;
    }
    offsets[n * stride] = static_cast<uint32_t>(start);
    lengths[n * stride] = static_cast<uint32_t>(clen);
    // One pass over the entry's data items (sd_journal_get_data per field would walk them once per
    // field); the first value of each field asked for is kept.
    const size_t nf = fields_.size();
    for (size_t f = 0; f < nf; f++) {
      offsets[n * stride + 1 + f] = ABSENT;
      lengths[n * stride + 1 + f] = 0;
    }
    size_t found = 0;
    sd.restart_data(j_.get());
    for (;;) {
      const void *data = nullptr;
      size_t len = 0;
      r = sd.enumerate_data(j_.get(), &data, &len);
      if (r == 0) break;
      if (r < 0) {
        // A corrupt data object: the fields read so far are kept, the entry is flagged.
        fl |= FLAG_BAD_FIELD;
        break;
      }
      const uint8_t *item = static_cast<const uint8_t *>(data);
      const uint8_t *eq = static_cast<const uint8_t *>(memchr(item, '=', len));
      if (eq == nullptr) continue;
      size_t nameLen = static_cast<size_t>(eq - item);
      for (size_t f = 0; f < nf; f++) {
        size_t slot = n * stride + 1 + f;
        if (offsets[slot] != ABSENT || fields_[f].size() != nameLen || memcmp(fields_[f].data(), item, nameLen) != 0) continue;
        const uint8_t *v = eq + 1;
        size_t vlen = len - nameLen - 1;
        if (vlen > maxFieldBytes_) {
          vlen = maxFieldBytes_;
          fl |= FLAG_TRUNCATED;
        }
        size_t at = *pos;
        if (!Put(slab, cap, pos, v, vlen)) {
          *pos = start;
          return false;
        }
        offsets[slot] = static_cast<uint32_t>(at);
        lengths[slot] = static_cast<uint32_t>(vlen);
        found++;
        break;
      }
      if (found == nf) break;
    }
    uint64_t rt = 0, mono = 0;
    sd_id128_t boot;
    if (sd.get_realtime_usec(j_.get(), &rt) < 0) rt = 0;
    if (sd.get_monotonic_usec(j_.get(), &mono, &boot) < 0) mono = 0;
    times[n * 2] = static_cast<double>(rt);
    times[n * 2 + 1] = static_cast<double>(mono);
    flags[n] = fl;
    return true;
  }

  // read(max, slab, offsets, lengths, times, flags) -> entries read (>= 0) | -errno
  //   entry i: offsets/lengths[i*(F+1)] = its cursor, [i*(F+1)+1+f] = field f (offset ABSENT: no such
  //   field); times[2i] = realtime µs, times[2i+1] = monotonic µs; flags[i] = FLAG_* bits.
  // An entry that does not fit in the slab stays for the next call; if it is the first one, returns
  // -ENOBUFS. An error after some entries is returned by the next call.
  Napi::Value Read(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!Ready(info)) return env.Undefined();
    uint32_t max = info[0].As<Napi::Number>().Uint32Value();
    Napi::Buffer<uint8_t> slab = info[1].As<Napi::Buffer<uint8_t>>();
    Napi::Uint32Array offsets = info[2].As<Napi::Uint32Array>();
    Napi::Uint32Array lengths = info[3].As<Napi::Uint32Array>();
    Napi::Float64Array times = info[4].As<Napi::Float64Array>();
    Napi::Uint8Array flags = info[5].As<Napi::Uint8Array>();
    const size_t stride = fields_.size() + 1;
    if (offsets.ElementLength() < max * stride || lengths.ElementLength() < max * stride ||
        times.ElementLength() < max * 2 || flags.ElementLength() < max) {
      Napi::RangeError::New(env, "read: arrays too small for max entries").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (deferredError_ != 0) {
      int e = deferredError_;
      deferredError_ = 0;
      return Napi::Number::New(env, e);
    }
    size_t pos = 0;
    uint32_t n = 0;
    while (n < max) {
      if (!pending_) {
        int r = sd.next(j_.get());
        if (r < 0) {
          if (n == 0) return Napi::Number::New(env, r);
          deferredError_ = r;
          break;
        }
        if (r == 0) break;  // no more entries for now
        if (!skipCursor_.empty()) {
          bool same = sd.test_cursor(j_.get(), skipCursor_.c_str()) > 0;
          skipCursor_.clear();
          if (same) continue;
        }
        pending_ = true;
      }
      int err = 0;
      if (!CopyEntry(slab.Data(), slab.Length(), &pos, offsets.Data(), lengths.Data(), times.Data(), flags.Data(), n,
                     &err)) {
        if (err != 0) {
          // This entry cannot be read (its cursor): skip it, say so.
          pending_ = false;
          if (n == 0) return Napi::Number::New(env, err);
          deferredError_ = err;
          break;
        }
        if (n == 0) return Napi::Number::New(env, -ENOBUFS);
        break;  // stays pending for the next call
      }
      pending_ = false;
      n++;
    }
    return Napi::Number::New(env, n);
  }

  // process() -> SD_JOURNAL_NOP (0) | APPEND (1) | INVALIDATE (2) | -errno: takes in the changes the
  // wait reported (new files, appended entries).
  Napi::Value Process(const Napi::CallbackInfo &info) {
    if (!Ready(info)) return info.Env().Undefined();
    return Napi::Number::New(info.Env(), sd.process(j_.get()));
  }

  // startWait(callback(result)) -> 0 | -errno: starts the wait thread (idle until armed).
  Napi::Value StartWait(const Napi::CallbackInfo &info) {
    if (!Ready(info)) return info.Env().Undefined();
    if (waiter_.running()) return Napi::Number::New(info.Env(), 0);
    int fd = sd.get_fd(j_.get());
    if (fd < 0) return Napi::Number::New(info.Env(), fd);
    int events = sd.get_events(j_.get());
    if (events < 0) return Napi::Number::New(info.Env(), events);
    return Napi::Number::New(info.Env(), waiter_.Start(info.Env(), info[0].As<Napi::Function>(), fd, events));
  }

  // armWait(timeoutMs): the callback is called once, when the journal changes or after timeoutMs.
  Napi::Value ArmWait(const Napi::CallbackInfo &info) {
    if (!Ready(info)) return info.Env().Undefined();
    if (!waiter_.running()) {
      Napi::Error::New(info.Env(), "armWait before startWait").ThrowAsJavaScriptException();
      return info.Env().Undefined();
    }
    waiter_.Arm(info[0].As<Napi::Number>().Int32Value());
    return info.Env().Undefined();
  }

  // close(): stops the wait thread (no callback after this returns) and closes the journal.
  Napi::Value Close(const Napi::CallbackInfo &info) {
    Shutdown();
    return info.Env().Undefined();
  }

  JournalHandle j_;
  Waiter waiter_;
  std::vector<std::string> fields_;
  uint32_t maxFieldBytes_ = 64 * 1024;
  bool pending_ = false;
  std::string skipCursor_;
  int deferredError_ = 0;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Journal", Journal::Init(env));
  exports.Set("ABSENT", Napi::Number::New(env, ABSENT));
  exports.Set("FLAG_TRUNCATED", Napi::Number::New(env, FLAG_TRUNCATED));
  exports.Set("FLAG_BAD_FIELD", Napi::Number::New(env, FLAG_BAD_FIELD));
  return exports;
}

}  // namespace

NODE_API_MODULE(journal, Init)
