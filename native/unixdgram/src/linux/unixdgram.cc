// AF_UNIX SOCK_DGRAM sockets for the OMA Linux agent.
//
// Receiver: binds a path, and on each readable event of its fd (a uv_poll_t on the JS thread's loop)
// drains datagrams with recvmmsg into a caller-owned Buffer slab of fixed slots, fills the caller's
// offsets/lengths/truncated (and pids/uids) arrays and calls the JS callback once per recvmmsg call
// with the count. It stops after a bounded number of batches per readable event so one flood cannot
// starve other I/O (the poll is level-triggered: it fires again on the next loop turn).
// The same receiver can bind a UDP address instead (bindInet), where the kernel's drop counter matters.
// Sender: sendmmsg of many datagrams per call from a slab + lengths, blocking or not.
//
// Native code returns errno values and the name of the failing syscall; the TS adapter turns them
// into errors. No C++ exceptions (NAPI_DISABLE_CPP_EXCEPTIONS): argument errors throw JS TypeErrors.

#include <napi.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <grp.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

namespace {

// An owned file descriptor, closed when it goes out of scope unless released.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// Longest path that fits sun_path with its terminating NUL.
constexpr size_t kMaxPathBytes = sizeof(((sockaddr_un*)nullptr)->sun_path) - 1;

bool FillAddress(const std::string& path, sockaddr_un* addr, socklen_t* len) {
  if (path.empty() || path.size() > kMaxPathBytes) return false;
  memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  memcpy(addr->sun_path, path.data(), path.size());
  *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  return true;
}

// A failed operation: { errno, syscall, reason? } for the adapter to map.
Napi::Value Failure(Napi::Env env, int err, const char* syscall, const char* reason = nullptr) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("errno", Napi::Number::New(env, err));
  o.Set("syscall", Napi::String::New(env, syscall));
  if (reason != nullptr) o.Set("reason", Napi::String::New(env, reason));
  return o;
}

Napi::Value ThrowType(Napi::Env env, const char* message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

// True when a datagram socket is bound at `path` and receiving (connect succeeds), false when the
// socket file is stale (ECONNREFUSED). Any other outcome (a stream socket: EPROTOTYPE; EACCES) is
// reported in *err and the file must be left alone.
bool ProbeLive(const sockaddr_un& addr, socklen_t len, int* err) {
  *err = 0;
  Fd probe(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!probe.valid()) {
    *err = errno;
    return true;
  }
  if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), len) == 0) return true;
  if (errno == ECONNREFUSED) return false;
  *err = errno;
  return true;
}

class Receiver;

// The poll handle of a started receiver, on the heap: libuv finishes closing it on a later loop turn,
// when the receiver may be gone. An async env cleanup hook keeps a worker thread's teardown waiting
// until that close is done (the addon's code may be unloaded after it).
struct PollBox {
  uv_poll_t poll;
  Receiver* owner = nullptr;
  napi_async_cleanup_hook_handle hook = nullptr;
};

constexpr size_t kControlBytes = CMSG_SPACE(sizeof(uint32_t)) + CMSG_SPACE(sizeof(ucred));
// Bytes per datagram of the optional sender-address array: family (4, 6 or 0), 0, port (big endian),
// then the address (4 bytes for IPv4, 16 for IPv6).
constexpr size_t kNameBytes = 20;

class Receiver : public Napi::ObjectWrap<Receiver> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Receiver",
                       {InstanceMethod("bind", &Receiver::Bind), InstanceMethod("bindInet", &Receiver::BindInet),
                        InstanceMethod("port", &Receiver::Port), InstanceMethod("start", &Receiver::Start),
                        InstanceMethod("pause", &Receiver::Pause), InstanceMethod("resume", &Receiver::Resume),
                        InstanceMethod("drops", &Receiver::Drops), InstanceMethod("close", &Receiver::Close)});
  }

  explicit Receiver(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Receiver>(info) {}
  ~Receiver() override { Shutdown(false); }

 private:
  // bind(path, mode (-1: leave), group (name, gid or -1), rcvbufBytes (0: leave), passCred)
  //   -> undefined | { errno, syscall, reason? }
  Napi::Value Bind(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 5 || !info[0].IsString() || !info[1].IsNumber() || !info[3].IsNumber() || !info[4].IsBoolean()) {
      return ThrowType(env, "bind(path, mode, group, rcvbufBytes, passCred)");
    }
    if (fd_.valid()) return ThrowType(env, "receiver already bound");
    std::string path = info[0].As<Napi::String>().Utf8Value();
    int mode = info[1].As<Napi::Number>().Int32Value();
    int rcvbuf = info[3].As<Napi::Number>().Int32Value();
    pass_cred_ = info[4].As<Napi::Boolean>().Value();

    gid_t gid = static_cast<gid_t>(-1);
    if (info[2].IsString()) {
      std::string name = info[2].As<Napi::String>().Utf8Value();
      group buf;
      group* found = nullptr;
      std::vector<char> scratch(16384);
      int rc = ::getgrnam_r(name.c_str(), &buf, scratch.data(), scratch.size(), &found);
      if (rc != 0) return Failure(env, rc, "getgrnam");
      if (found == nullptr) return Failure(env, ENOENT, "getgrnam", "no such group");
      gid = found->gr_gid;
    } else if (info[2].IsNumber() && info[2].As<Napi::Number>().Int64Value() >= 0) {
      gid = static_cast<gid_t>(info[2].As<Napi::Number>().Int64Value());
    }

    sockaddr_un addr;
    socklen_t len;
    if (!FillAddress(path, &addr, &len)) return Failure(env, path.empty() ? EINVAL : ENAMETOOLONG, "bind");

    Fd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return Failure(env, errno, "socket");
    int on = 1;
    if (rcvbuf > 0 && ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) != 0) {
      return Failure(env, errno, "setsockopt(SO_RCVBUF)");
    }
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof(on)) != 0) {
      return Failure(env, errno, "setsockopt(SO_RXQ_OVFL)");
    }
    if (pass_cred_ && ::setsockopt(fd.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) != 0) {
      return Failure(env, errno, "setsockopt(SO_PASSCRED)");
    }

    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
      if (errno != EADDRINUSE) return Failure(env, errno, "bind");
      // Something is at the path: replace it only if it is a socket nobody receives on.
      struct stat st;
      if (::lstat(path.c_str(), &st) != 0) return Failure(env, errno, "lstat");
      if (!S_ISSOCK(st.st_mode)) return Failure(env, EEXIST, "bind", "not-socket");
      int probe_err = 0;
      if (ProbeLive(addr, len, &probe_err)) {
        return probe_err == 0 ? Failure(env, EADDRINUSE, "bind", "in-use") : Failure(env, probe_err, "connect", "probe");
      }
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Failure(env, errno, "unlink");
      if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0) return Failure(env, errno, "bind");
    }
    // From here on the path is ours: remove it again if setting it up fails.
    if (mode >= 0 && ::chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) {
      int err = errno;
      ::unlink(path.c_str());
      return Failure(env, err, "chmod");
    }
    if (gid != static_cast<gid_t>(-1) && ::lchown(path.c_str(), static_cast<uid_t>(-1), gid) != 0) {
      int err = errno;
      ::unlink(path.c_str());
      return Failure(env, err, "chown");
    }
    fd_ = std::move(fd);
    path_ = path;
    return env.Undefined();
  }

  // bindInet(host (IPv4 or IPv6 literal), port (0: any), rcvbufBytes (0: leave)) -> undefined | { errno, syscall }
  // A UDP socket drained the same way, where the kernel really drops on overflow (SO_RXQ_OVFL counts it).
  Napi::Value BindInet(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsNumber()) {
      return ThrowType(env, "bindInet(host, port, rcvbufBytes)");
    }
    if (fd_.valid()) return ThrowType(env, "receiver already bound");
    std::string host = info[0].As<Napi::String>().Utf8Value();
    uint32_t port = info[1].As<Napi::Number>().Uint32Value();
    int rcvbuf = info[2].As<Napi::Number>().Int32Value();
    if (port > 65535) return Failure(env, EINVAL, "bind");
    sockaddr_storage addr;
    memset(&addr, 0, sizeof(addr));
    socklen_t len;
    int family;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
    if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
      family = v4->sin_family = AF_INET;
      v4->sin_port = htons(static_cast<uint16_t>(port));
      len = sizeof(*v4);
    } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
      family = v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(static_cast<uint16_t>(port));
      len = sizeof(*v6);
    } else {
      return Failure(env, EINVAL, "inet_pton");
    }
    Fd fd(::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return Failure(env, errno, "socket");
    int on = 1;
    if (rcvbuf > 0 && ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) != 0) {
      return Failure(env, errno, "setsockopt(SO_RCVBUF)");
    }
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof(on)) != 0) {
      return Failure(env, errno, "setsockopt(SO_RXQ_OVFL)");
    }
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0) return Failure(env, errno, "bind");
    fd_ = std::move(fd);
    return env.Undefined();
  }

  // port() -> the bound UDP port (0 for a unix socket or when unbound).
  Napi::Value Port(const Napi::CallbackInfo& info) {
    sockaddr_storage addr;
    socklen_t len = sizeof(addr);
    uint32_t port = 0;
    if (fd_.valid() && ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      if (addr.ss_family == AF_INET) port = ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
      if (addr.ss_family == AF_INET6) port = ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
    }
    return Napi::Number::New(info.Env(), port);
  }

  // start(slab, offsets, lengths, truncated, pids|null, uids|null, slotBytes, batchSize, maxBatchesPerEvent,
  //       onBatch(count), onError(errno, syscall), names|null) -> undefined | { errno, syscall }
  // names (a Uint8Array of batchSize * kNameBytes) receives each datagram's sender address (UDP).
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!fd_.valid()) return ThrowType(env, "receiver not bound");
    if (poll_ != nullptr) return ThrowType(env, "receiver already started");
    if (info.Length() < 11 || !info[0].IsBuffer() || !info[1].IsTypedArray() || !info[2].IsTypedArray() ||
        !info[3].IsTypedArray() || !info[6].IsNumber() || !info[7].IsNumber() || !info[8].IsNumber() ||
        !info[9].IsFunction() || !info[10].IsFunction()) {
      return ThrowType(env, "start(slab, offsets, lengths, truncated, pids, uids, slotBytes, batchSize, maxBatches, onBatch, onError)");
    }
    auto slab = info[0].As<Napi::Buffer<uint8_t>>();
    auto offsets = info[1].As<Napi::Uint32Array>();
    auto lengths = info[2].As<Napi::Uint32Array>();
    auto truncated = info[3].As<Napi::Uint8Array>();
    slot_bytes_ = info[6].As<Napi::Number>().Uint32Value();
    batch_size_ = info[7].As<Napi::Number>().Uint32Value();
    max_batches_ = info[8].As<Napi::Number>().Uint32Value();
    if (slot_bytes_ == 0 || batch_size_ == 0 || max_batches_ == 0 ||
        slab.Length() < static_cast<size_t>(slot_bytes_) * batch_size_ || offsets.ElementLength() < batch_size_ ||
        lengths.ElementLength() < batch_size_ || truncated.ElementLength() < batch_size_) {
      return ThrowType(env, "slab or arrays smaller than batchSize slots");
    }
    if (pass_cred_) {
      if (!info[4].IsTypedArray() || !info[5].IsTypedArray()) return ThrowType(env, "pids and uids required with passCred");
      auto pids = info[4].As<Napi::Int32Array>();
      auto uids = info[5].As<Napi::Uint32Array>();
      if (pids.ElementLength() < batch_size_ || uids.ElementLength() < batch_size_) return ThrowType(env, "pids/uids too small");
      pids_ = pids.Data();
      uids_ = uids.Data();
      pids_ref_ = Napi::Persistent(static_cast<Napi::Object>(pids));
      uids_ref_ = Napi::Persistent(static_cast<Napi::Object>(uids));
    }
    if (info.Length() > 11 && info[11].IsTypedArray()) {
      auto names = info[11].As<Napi::Uint8Array>();
      if (names.ElementLength() < static_cast<size_t>(batch_size_) * kNameBytes) return ThrowType(env, "names too small");
      names_ = names.Data();
      names_ref_ = Napi::Persistent(static_cast<Napi::Object>(names));
      addrs_.assign(batch_size_, sockaddr_storage{});
    }
    slab_ = slab.Data();
    offsets_ = offsets.Data();
    lengths_ = lengths.Data();
    truncated_ = truncated.Data();
    // Keep the caller's memory alive while native code writes into it.
    slab_ref_ = Napi::Persistent(static_cast<Napi::Object>(slab));
    offsets_ref_ = Napi::Persistent(static_cast<Napi::Object>(offsets));
    lengths_ref_ = Napi::Persistent(static_cast<Napi::Object>(lengths));
    truncated_ref_ = Napi::Persistent(static_cast<Napi::Object>(truncated));
    on_batch_ = Napi::Persistent(info[9].As<Napi::Function>());
    on_error_ = Napi::Persistent(info[10].As<Napi::Function>());
    self_ref_ = Napi::Persistent(info.This().As<Napi::Object>());  // not collected while polling
    async_ = std::make_unique<Napi::AsyncContext>(env, "oma.unixdgram");

    msgs_.assign(batch_size_, mmsghdr{});
    iovs_.assign(batch_size_, iovec{});
    control_.assign(static_cast<size_t>(batch_size_) * kControlBytes, 0);
    for (uint32_t i = 0; i < batch_size_; i++) {
      offsets_[i] = i * slot_bytes_;
      iovs_[i].iov_base = slab_ + static_cast<size_t>(i) * slot_bytes_;
      iovs_[i].iov_len = slot_bytes_;
    }

    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) return Failure(env, EINVAL, "napi_get_uv_event_loop");
    auto* box = new PollBox;
    int rc = uv_poll_init(loop, &box->poll, fd_.get());
    if (rc != 0) {
      delete box;
      return Failure(env, -rc, "uv_poll_init");
    }
    box->owner = this;
    box->poll.data = box;
    poll_ = &box->poll;
    napi_add_async_cleanup_hook(env, OnEnvCleanup, box, &box->hook);
    if (paused_) return env.Undefined();  // paused before start: polling begins on resume
    rc = uv_poll_start(poll_, UV_READABLE, OnReadable);
    if (rc != 0) return Failure(env, -rc, "uv_poll_start");
    return env.Undefined();
  }

  // The environment (a worker thread) ends with the receiver open: close it now.
  static void OnEnvCleanup(napi_async_cleanup_hook_handle /*handle*/, void* arg) {
    auto* box = static_cast<PollBox*>(arg);
    if (box->owner != nullptr) box->owner->Shutdown(false);  // else its close is under way already
  }

  static void OnPollClosed(uv_handle_t* h) {
    auto* box = static_cast<PollBox*>(h->data);
    if (box->hook != nullptr) napi_remove_async_cleanup_hook(box->hook);
    delete box;
  }

  Napi::Value Pause(const Napi::CallbackInfo& info) {
    paused_ = true;
    if (poll_ != nullptr) uv_poll_stop(poll_);
    return info.Env().Undefined();
  }

  Napi::Value Resume(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!paused_) return env.Undefined();
    paused_ = false;
    if (poll_ != nullptr && fd_.valid()) {
      int rc = uv_poll_start(poll_, UV_READABLE, OnReadable);
      if (rc != 0) return Failure(env, -rc, "uv_poll_start");
    }
    return env.Undefined();
  }

  Napi::Value Drops(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), drops_); }

  // close(unlinkPath): stops polling, closes the fd and (normally) removes the path.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    bool unlink_path = info.Length() < 1 || !info[0].IsBoolean() || info[0].As<Napi::Boolean>().Value();
    Shutdown(unlink_path);
    return info.Env().Undefined();
  }

  void Shutdown(bool unlink_path) {
    if (poll_ != nullptr) {
      uv_poll_stop(poll_);
      static_cast<PollBox*>(poll_->data)->owner = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), OnPollClosed);
      poll_ = nullptr;
    }
    if (fd_.valid()) {
      fd_.reset();
      if (unlink_path && !path_.empty()) ::unlink(path_.c_str());
    }
    closed_ = true;
    if (!self_ref_.IsEmpty()) {
      slab_ref_.Reset();
      offsets_ref_.Reset();
      lengths_ref_.Reset();
      truncated_ref_.Reset();
      pids_ref_.Reset();
      names_ref_.Reset();
      names_ = nullptr;
      uids_ref_.Reset();
      on_batch_.Reset();
      on_error_.Reset();
      self_ref_.Reset();
    }
  }

  static void OnReadable(uv_poll_t* handle, int status, int /*events*/) {
    static_cast<PollBox*>(handle->data)->owner->Drain(status);
  }

  void Drain(int status) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::Object self = Value();  // rooted while JS runs, even if a callback closes the receiver
    if (status < 0) {
      Fail(env, -status, "uv_poll");
      return;
    }
    for (uint32_t batch = 0; batch < max_batches_ && !paused_ && !closed_; batch++) {
      for (uint32_t i = 0; i < batch_size_; i++) {
        msghdr& h = msgs_[i].msg_hdr;
        h.msg_name = names_ != nullptr ? &addrs_[i] : nullptr;
        h.msg_namelen = names_ != nullptr ? sizeof(sockaddr_storage) : 0;
        h.msg_iov = &iovs_[i];
        h.msg_iovlen = 1;
        h.msg_control = control_.data() + static_cast<size_t>(i) * kControlBytes;
        h.msg_controllen = kControlBytes;
        h.msg_flags = 0;
        msgs_[i].msg_len = 0;
      }
      int n = ::recvmmsg(fd_.get(), msgs_.data(), batch_size_, MSG_DONTWAIT, nullptr);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        Fail(env, errno, "recvmmsg");
        return;
      }
      for (int i = 0; i < n; i++) {
        msghdr& h = msgs_[i].msg_hdr;
        lengths_[i] = msgs_[i].msg_len;
        truncated_[i] = (h.msg_flags & MSG_TRUNC) != 0 ? 1 : 0;
        if (names_ != nullptr) WriteName(addrs_[i], h.msg_namelen, names_ + static_cast<size_t>(i) * kNameBytes);
        if (pids_ != nullptr) {
          pids_[i] = 0;
          uids_[i] = 0;
        }
        for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
          if (c->cmsg_level != SOL_SOCKET) continue;
          if (c->cmsg_type == SO_RXQ_OVFL && c->cmsg_len >= CMSG_LEN(sizeof(uint32_t))) {
            uint32_t dropped;
            memcpy(&dropped, CMSG_DATA(c), sizeof(dropped));
            drops_ = dropped;  // the kernel's running count since the socket was opened
          } else if (c->cmsg_type == SCM_CREDENTIALS && pids_ != nullptr && c->cmsg_len >= CMSG_LEN(sizeof(ucred))) {
            ucred cred;
            memcpy(&cred, CMSG_DATA(c), sizeof(cred));
            pids_[i] = cred.pid;
            uids_[i] = cred.uid;
          }
        }
      }
      if (n == 0) return;
      on_batch_.MakeCallback(self, {Napi::Number::New(env, n)}, *async_);
      if (env.IsExceptionPending()) {
        // The adapter catches everything; should something escape, report it as Node does.
        Napi::Error e = env.GetAndClearPendingException();
        napi_fatal_exception(env, e.Value());
        return;
      }
      if (static_cast<uint32_t>(n) < batch_size_) return;  // drained: the next datagram fires the poll again
    }
  }

  // One datagram's sender address into its kNameBytes entry (all zero when the kernel gave none).
  static void WriteName(const sockaddr_storage& a, socklen_t len, uint8_t* out) {
    memset(out, 0, kNameBytes);
    if (a.ss_family == AF_INET && len >= sizeof(sockaddr_in)) {
      const auto* v4 = reinterpret_cast<const sockaddr_in*>(&a);
      out[0] = 4;
      memcpy(out + 2, &v4->sin_port, 2);
      memcpy(out + 4, &v4->sin_addr, 4);
    } else if (a.ss_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
      const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&a);
      out[0] = 6;
      memcpy(out + 2, &v6->sin6_port, 2);
      memcpy(out + 4, &v6->sin6_addr, 16);
    }
  }

  void Fail(Napi::Env env, int err, const char* syscall) {
    Napi::FunctionReference on_error;
    on_error.Reset(on_error_.Value(), 1);
    Shutdown(false);
    on_error.MakeCallback(env.Global(), {Napi::Number::New(env, err), Napi::String::New(env, syscall)});
    if (env.IsExceptionPending()) {
      Napi::Error e = env.GetAndClearPendingException();
      napi_fatal_exception(env, e.Value());
    }
  }

  Fd fd_;
  std::string path_;
  bool pass_cred_ = false;
  bool paused_ = false;
  bool closed_ = false;
  uint32_t drops_ = 0;
  uv_poll_t* poll_ = nullptr;

  uint32_t slot_bytes_ = 0;
  uint32_t batch_size_ = 0;
  uint32_t max_batches_ = 0;
  uint8_t* slab_ = nullptr;
  uint32_t* offsets_ = nullptr;
  uint32_t* lengths_ = nullptr;
  uint8_t* truncated_ = nullptr;
  int32_t* pids_ = nullptr;
  uint32_t* uids_ = nullptr;
  uint8_t* names_ = nullptr;
  std::vector<sockaddr_storage> addrs_;
  std::vector<mmsghdr> msgs_;
  std::vector<iovec> iovs_;
  std::vector<uint8_t> control_;

  Napi::ObjectReference slab_ref_, offsets_ref_, lengths_ref_, truncated_ref_, pids_ref_, uids_ref_, names_ref_, self_ref_;
  Napi::FunctionReference on_batch_, on_error_;
  std::unique_ptr<Napi::AsyncContext> async_;
};

class Sender : public Napi::ObjectWrap<Sender> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Sender",
                       {InstanceMethod("open", &Sender::Open), InstanceMethod("send", &Sender::Send),
                        InstanceMethod("close", &Sender::Close)});
  }
  explicit Sender(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Sender>(info) {}

 private:
  // open(blocking, sndbufBytes (0: leave)) -> undefined | { errno, syscall }
  Napi::Value Open(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsBoolean() || !info[1].IsNumber()) return ThrowType(env, "open(blocking, sndbufBytes)");
    int flags = SOCK_CLOEXEC | (info[0].As<Napi::Boolean>().Value() ? 0 : SOCK_NONBLOCK);
    Fd fd(::socket(AF_UNIX, SOCK_DGRAM | flags, 0));
    if (!fd.valid()) return Failure(env, errno, "socket");
    int sndbuf = info[1].As<Napi::Number>().Int32Value();
    if (sndbuf > 0 && ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) != 0) {
      return Failure(env, errno, "setsockopt(SO_SNDBUF)");
    }
    fd_ = std::move(fd);
    return env.Undefined();
  }

  // send(path, slab, lengths, count, result: Uint32Array[3]) -> undefined | { errno, syscall }
  // Datagram i is the next lengths[i] bytes of the slab. result = [sent, eagain, enobufs]: a datagram
  // refused with EAGAIN (receiver queue full, non-blocking) or ENOBUFS is counted and skipped.
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!fd_.valid()) return ThrowType(env, "sender not open");
    if (info.Length() < 5 || !info[0].IsString() || !info[1].IsBuffer() || !info[2].IsTypedArray() ||
        !info[3].IsNumber() || !info[4].IsTypedArray()) {
      return ThrowType(env, "send(path, slab, lengths, count, result)");
    }
    std::string path = info[0].As<Napi::String>().Utf8Value();
    auto slab = info[1].As<Napi::Buffer<uint8_t>>();
    auto lengths = info[2].As<Napi::Uint32Array>();
    uint32_t count = info[3].As<Napi::Number>().Uint32Value();
    auto result = info[4].As<Napi::Uint32Array>();
    if (count > lengths.ElementLength() || result.ElementLength() < 3) return ThrowType(env, "count exceeds lengths");
    sockaddr_un addr;
    socklen_t len;
    if (!FillAddress(path, &addr, &len)) return Failure(env, path.empty() ? EINVAL : ENAMETOOLONG, "sendmmsg");

    std::vector<mmsghdr> msgs(count);
    std::vector<iovec> iovs(count);
    size_t at = 0;
    for (uint32_t i = 0; i < count; i++) {
      if (at + lengths[i] > slab.Length()) return ThrowType(env, "lengths exceed the slab");
      iovs[i].iov_base = slab.Data() + at;
      iovs[i].iov_len = lengths[i];
      at += lengths[i];
      msghdr& h = msgs[i].msg_hdr;
      memset(&h, 0, sizeof(h));
      h.msg_name = &addr;
      h.msg_namelen = len;
      h.msg_iov = &iovs[i];
      h.msg_iovlen = 1;
    }
    uint32_t sent = 0, eagain = 0, enobufs = 0;
    uint32_t i = 0;
    while (i < count) {
      int n = ::sendmmsg(fd_.get(), msgs.data() + i, count - i, 0);
      if (n > 0) {
        sent += n;
        i += n;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        eagain++;
        i++;
        continue;
      }
      if (n < 0 && errno == ENOBUFS) {
        enobufs++;
        i++;
        continue;
      }
      result[0] = sent;
      result[1] = eagain;
      result[2] = enobufs;
      return Failure(env, n < 0 ? errno : EIO, "sendmmsg");
    }
    result[0] = sent;
    result[1] = eagain;
    result[2] = enobufs;
    return env.Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    fd_.reset();
    return info.Env().Undefined();
  }

  Fd fd_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Receiver", Receiver::Init(env));
  exports.Set("Sender", Sender::Init(env));
  exports.Set("maxPathBytes", Napi::Number::New(env, static_cast<double>(kMaxPathBytes)));
  return exports;
}

}  // namespace

NODE_API_MODULE(unixdgram, Init)
