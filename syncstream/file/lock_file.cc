#include "syncstream/file/lock_file.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "syncstream/core/deadline.h"
#include "syncstream/file/internal/shared_file.h"
#include "syncstream/core/posix_io.h"

namespace syncstream::file {
namespace {

// How errors name a lock file.
std::string LockName(const std::string& path) {
  return absl::StrCat("lock '", path, "'");
}

using internal::ErrnoText;

constexpr absl::string_view kLockHeaderLine = "syncstream-lock 1";

std::string Hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown-host";
  return buf;
}

// Single-line, bounded identity strings for the text format.
std::string SanitizeField(absl::string_view value) {
  std::string out;
  for (char c : value.substr(0, 128)) {
    out.push_back((c == '\n' || c == '\r' || c == '=') ? '_' : c);
  }
  return out;
}

// The host id written into this process's locks.
std::string LocalHostId(absl::string_view configured) {
  return configured.empty() ? Hostname() : SanitizeField(configured);
}

uint32_t Crc(absl::string_view text) {
  return static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(text.data()),
            static_cast<uInt>(text.size())));
}

// Reads the lock file at `path`, freshly opened by path. NotFound if it does
// not exist. Something that is not a regular file (a FIFO, a link: planted,
// never written by a holder) reads as kNotALock plus the reason, content no
// holder writes, so that it is judged like a damaged lock: replaced once it
// has sat unchanged for a lease.
constexpr absl::string_view kNotALock = "not a lock file: ";

absl::StatusOr<std::string> ReadByPath(const std::string& path) {
  absl::StatusOr<std::string> content =
      internal::ReadRegularFile(path, kLockFileSize, "lock");
  if (absl::IsFailedPrecondition(content.status())) {
    return absl::StrCat(kNotALock, content.status().message());
  }
  return content;
}

// Stale by the rules an inspector can apply in one look. `host_id` is this
// process's host identity as written into its own locks: the dead-pid rule
// applies to holders that wrote the same one (and the same boot id).
bool StaleByRules(const LockHolder& holder, absl::Time now,
                  absl::string_view host_id, std::string* reason) {
  absl::Duration age = now - holder.heartbeat;
  if (age > holder.lease) {
    *reason = absl::StrCat("heartbeat ", absl::FormatDuration(age),
                           " old, lease ", absl::FormatDuration(holder.lease));
    return true;
  }
  static const std::string& boot = ThisBootId();
  if (holder.host == host_id && !boot.empty() && holder.boot_id == boot &&
      holder.pid > 0 && ::kill(static_cast<pid_t>(holder.pid), 0) != 0 &&
      errno == ESRCH) {
    *reason = absl::StrCat("holder pid ", holder.pid, " is gone (same host)");
    return true;
  }
  return false;
}

}  // namespace

const std::string& ThisBootId() {
  static const std::string* boot_id = [] {
    std::ifstream in("/proc/sys/kernel/random/boot_id");
    std::string id;
    std::getline(in, id);
    return new std::string(id);
  }();
  return *boot_id;
}

uint64_t RandomNonce() {
  uint64_t value = 0;
  while (::getrandom(&value, sizeof(value), 0) != sizeof(value)) {
  }
  return value;
}

std::string EncodeLockHolder(const LockHolder& h) {
  std::string text = absl::StrCat(
      kLockHeaderLine, "\nhost=", SanitizeField(h.host), "\npid=", h.pid,
      "\nboot_id=", SanitizeField(h.boot_id), "\nnonce=",
      absl::StrFormat("%016x", h.nonce), "\ngeneration=", h.generation,
      "\nacquired_unix_ns=", absl::ToUnixNanos(h.acquired),
      "\nheartbeat_unix_ns=", absl::ToUnixNanos(h.heartbeat),
      "\nheartbeat_count=", h.heartbeat_count,
      "\nlease_ns=", absl::ToInt64Nanoseconds(h.lease), "\n");
  absl::StrAppend(&text, "crc=", absl::StrFormat("%08x", Crc(text)), "\n");
  text.resize(kLockFileSize, '\n');
  return text;
}

absl::StatusOr<LockHolder> DecodeLockHolder(absl::string_view bytes,
                                            absl::string_view name) {
  auto bad = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("lock '", name, "': ", why));
  };
  if (bytes.empty()) return bad("empty (its creator died before writing it?)");
  size_t crc_pos = bytes.find("\ncrc=");
  if (crc_pos == absl::string_view::npos) return bad("no checksum line");
  absl::string_view body = bytes.substr(0, crc_pos + 1);
  absl::string_view crc_line = bytes.substr(crc_pos + 5);
  crc_line = crc_line.substr(0, crc_line.find('\n'));
  uint32_t stored_crc = 0;
  if (!absl::SimpleHexAtoi(crc_line, &stored_crc) || stored_crc != Crc(body)) {
    return bad("checksum mismatch");
  }
  std::vector<absl::string_view> lines =
      absl::StrSplit(body, '\n', absl::SkipEmpty());
  if (lines.empty() || lines[0] != kLockHeaderLine) {
    return bad("header line mismatch (not a syncstream lock?)");
  }
  LockHolder h;
  int64_t acquired = 0, heartbeat = 0, lease = 0;
  int found = 0;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(lines[i], absl::MaxSplits('=', 1));
    bool ok = true;
    if (kv.first == "host") {
      h.host = std::string(kv.second);
    } else if (kv.first == "pid") {
      ok = absl::SimpleAtoi(kv.second, &h.pid);
    } else if (kv.first == "boot_id") {
      h.boot_id = std::string(kv.second);
    } else if (kv.first == "nonce") {
      ok = absl::SimpleHexAtoi(kv.second, &h.nonce);
    } else if (kv.first == "generation") {
      ok = absl::SimpleAtoi(kv.second, &h.generation);
    } else if (kv.first == "acquired_unix_ns") {
      ok = absl::SimpleAtoi(kv.second, &acquired);
    } else if (kv.first == "heartbeat_unix_ns") {
      ok = absl::SimpleAtoi(kv.second, &heartbeat);
    } else if (kv.first == "heartbeat_count") {
      ok = absl::SimpleAtoi(kv.second, &h.heartbeat_count);
    } else if (kv.first == "lease_ns") {
      ok = absl::SimpleAtoi(kv.second, &lease);
    } else {
      continue;  // unknown keys are ignored (newer writers)
    }
    if (!ok) return bad(absl::StrCat("bad value for '", kv.first, "'"));
    ++found;
  }
  if (found < 9) return bad("missing fields");
  if (lease <= 0) return bad("non-positive lease");
  h.acquired = absl::FromUnixNanos(acquired);
  h.heartbeat = absl::FromUnixNanos(heartbeat);
  h.lease = absl::Nanoseconds(lease);
  return h;
}

// What a waiter saw of the lock, and since when on its own clock.
struct LockFile::Observation {
  std::string content;
  absl::Time since_monotonic;
};

LockFile::LockFile(std::string path, LockFileOptions options)
    : path_(std::move(path)),
      options_(std::move(options)),
      host_id_(LocalHostId(options_.host_id)) {}

mode_t LockFile::file_mode() const {
  return options_.share_with_group ? 0660 : 0600;
}

LockHolder LockFile::NewHolder() const {
  LockHolder h;
  h.host = host_id_;
  h.pid = ::getpid();
  h.boot_id = ThisBootId();
  h.nonce = RandomNonce();
  h.acquired = ::syncstream::Now();
  h.heartbeat = h.acquired;
  h.lease = options_.lease;
  return h;
}

absl::StatusOr<bool> LockFile::TryCreate(UniqueFd* fd, LockHolder* holder) {
  absl::StatusOr<UniqueFd> created =
      internal::CreateExclusive(path_, file_mode(), "lock");
  if (absl::IsAlreadyExists(created.status())) return false;
  if (!created.ok()) return created.status();
  *holder = NewHolder();
  absl::Status written =
      WriteAllAt(created->get(), EncodeLockHolder(*holder), 0, LockName(path_));
  if (!written.ok()) {
    ::unlink(path_.c_str());
    return written;
  }
  // Read back by path: on NFS a retransmitted exclusive create can report
  // EEXIST for our own file, or success for someone else's; the nonce
  // decides.
  auto back = ReadByPath(path_);
  if (!back.ok()) return false;
  auto decoded = DecodeLockHolder(*back, path_);
  if (!decoded.ok() || decoded->nonce != holder->nonce) return false;
  *fd = *std::move(created);
  return true;
}

absl::StatusOr<bool> LockFile::TryTakeOver(const std::string& stale_content,
                                           UniqueFd* fd, LockHolder* holder) {
  const std::string takeover_path = path_ + ".takeover";
  {
    absl::StatusOr<UniqueFd> guard =
        internal::CreateExclusive(takeover_path, file_mode(), "lock guard");
    // AlreadyExists: another taker is at work.
    if (absl::IsAlreadyExists(guard.status())) return false;
    if (!guard.ok()) return guard.status();
    LockHolder me = NewHolder();
    WriteAllAt(guard->get(), EncodeLockHolder(me), 0, LockName(takeover_path)).IgnoreError();
  }
  // From here we are the only taker; remove the guard whatever happens.
  struct GuardRemover {
    const std::string& path;
    ~GuardRemover() { ::unlink(path.c_str()); }
  } remover{takeover_path};

  auto current = ReadByPath(path_);
  if (!current.ok() || *current != stale_content) return false;

  const std::string new_path =
      absl::StrFormat("%s.new-%016x", path_, RandomNonce());
  absl::StatusOr<UniqueFd> created =
      internal::CreateExclusive(new_path, file_mode(), "lock");
  if (!created.ok()) return created.status();
  *holder = NewHolder();
  absl::Status written =
      WriteAllAt(created->get(), EncodeLockHolder(*holder), 0, LockName(new_path));
  if (!written.ok() || ::rename(new_path.c_str(), path_.c_str()) != 0) {
    ::unlink(new_path.c_str());
    if (!written.ok()) return written;
    return absl::InternalError(absl::StrCat(
        "lock '", path_, "': replace stale lock: ", ErrnoText(errno)));
  }
  auto back = ReadByPath(path_);
  if (!back.ok()) return false;
  auto decoded = DecodeLockHolder(*back, path_);
  if (!decoded.ok() || decoded->nonce != holder->nonce) return false;
  *fd = *std::move(created);
  return true;
}

absl::StatusOr<std::unique_ptr<HeldLock>> LockFile::Acquire(
    absl::Duration timeout) {
  const absl::Time deadline = DeadlineAfter(timeout);
  std::optional<Observation> seen;
  std::optional<Observation> seen_guard;
  absl::Duration backoff = absl::Microseconds(50);
  std::string last_holder = "unknown";
  while (true) {
    UniqueFd fd;
    LockHolder me;
    absl::StatusOr<bool> created = TryCreate(&fd, &me);
    if (!created.ok()) return created.status();
    if (*created) {
      return std::unique_ptr<HeldLock>(
          new HeldLock(this, std::move(fd), std::move(me), false, {}));
    }
    // Held (or being created): is it stale?
    auto content = ReadByPath(path_);
    if (content.ok()) {
      const absl::Time now = ::syncstream::Now();
      if (!seen || seen->content != *content) {
        seen = Observation{*content, now};
      }
      auto holder = DecodeLockHolder(*content, path_);
      std::string reason;
      bool stale = false;
      if (absl::StartsWith(*content, kNotALock)) {
        last_holder = *content;
      } else if (holder.ok()) {
        last_holder = absl::StrCat(holder->host, " pid ", holder->pid);
        stale = StaleByRules(*holder, now, host_id_, &reason);
      }
      const absl::Duration lease =
          holder.ok() ? std::max(holder->lease, options_.lease) : options_.lease;
      if (!stale && now - seen->since_monotonic > lease) stale = true;
      if (stale) {
        absl::StatusOr<bool> taken = TryTakeOver(*content, &fd, &me);
        if (!taken.ok()) return taken.status();
        if (*taken) {
          LockHolder previous = holder.ok() ? *holder : LockHolder{};
          return std::unique_ptr<HeldLock>(new HeldLock(
              this, std::move(fd), std::move(me), true, std::move(previous)));
        }
        // A taker that died holding the takeover guard: remove the guard
        // once it has sat unchanged for a lease.
        auto guard = ReadByPath(path_ + ".takeover");
        if (guard.ok()) {
          if (!seen_guard || seen_guard->content != *guard) {
            seen_guard = Observation{*guard, now};
          } else if (now - seen_guard->since_monotonic > options_.lease) {
            ::unlink((path_ + ".takeover").c_str());
            seen_guard.reset();
          }
        }
      }
    }
    if (::syncstream::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "lock '", path_, "': still held by ", last_holder, " after ",
          absl::FormatDuration(timeout)));
    }
    absl::Duration sleep = std::min(backoff, TimeLeft(deadline));
    absl::SleepFor(sleep);
    backoff = std::min(backoff * 2, absl::Milliseconds(2));
  }
}

LockState LockFile::Inspect(const std::string& path,
                            absl::string_view host_id) {
  LockState state;
  auto content = ReadByPath(path);
  if (!content.ok()) {
    if (!absl::IsNotFound(content.status())) {
      state.present = true;
      state.problem = std::string(content.status().message());
    }
    return state;
  }
  state.present = true;
  if (absl::StartsWith(*content, kNotALock)) {
    state.problem = content->substr(kNotALock.size());
    state.stale = true;
    state.stale_reason = "not a lock file (no holder made it)";
    return state;
  }
  auto holder = DecodeLockHolder(*content, path);
  if (!holder.ok()) {
    state.problem = std::string(holder.status().message());
    // Unreadable: judge by the file's age instead.
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) {
      absl::Duration age = ::syncstream::Now() - absl::FromTimeT(st.st_mtime);
      state.heartbeat_age = age;
      LockFileOptions defaults;
      state.stale = age > defaults.lease;
      if (state.stale) {
        state.stale_reason = absl::StrCat("unreadable and unchanged for ",
                                          absl::FormatDuration(age));
      }
    }
    return state;
  }
  state.readable = true;
  state.holder = *holder;
  const absl::Time now = ::syncstream::Now();
  state.heartbeat_age = now - holder->heartbeat;
  state.stale =
      StaleByRules(*holder, now, LocalHostId(host_id), &state.stale_reason);
  return state;
}

absl::Status LockFile::Break(const std::string& path, bool force) {
  LockState state = Inspect(path);
  if (!state.present) {
    return absl::NotFoundError(absl::StrCat("lock '", path, "': not held"));
  }
  if (!state.stale && !force) {
    return absl::FailedPreconditionError(absl::StrCat(
        "lock '", path, "': held by ", state.holder.host, " pid ",
        state.holder.pid, ", heartbeat ",
        absl::FormatDuration(state.heartbeat_age),
        " ago: not stale (use --force to break it anyway)"));
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::InternalError(
        absl::StrCat("lock '", path, "': unlink: ", ErrnoText(errno)));
  }
  return absl::OkStatus();
}

HeldLock::HeldLock(const LockFile* owner, UniqueFd fd, LockHolder holder,
                   bool took_over, LockHolder previous)
    : owner_(owner),
      fd_(std::move(fd)),
      took_over_(took_over),
      previous_(std::move(previous)),
      holder_(std::move(holder)) {
  renewer_ = std::thread([this] { RenewLoop(); });
}

HeldLock::~HeldLock() { Release().IgnoreError(); }

LockHolder HeldLock::holder() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return holder_;
}

absl::Status HeldLock::WriteHolderLocked() {
  holder_.heartbeat = ::syncstream::Now();
  ++holder_.heartbeat_count;
  return WriteAllAt(fd_.get(), EncodeLockHolder(holder_), 0, LockName(owner_->path_));
}

void HeldLock::RenewLoop() {
  std::unique_lock<std::mutex> lock(mutex_);
  const absl::Duration period = owner_->options_.lease / 4;
  while (!stop_) {
    cv_.wait_for(lock, absl::ToChronoNanoseconds(period));
    if (stop_) break;
    // Writes through our own descriptor: if the lock was taken over, this
    // lands in the replaced inode and harms nobody.
    WriteHolderLocked().IgnoreError();
  }
}

absl::Status HeldLock::Verify() const {
  auto content = ReadByPath(owner_->path_);
  uint64_t nonce;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    nonce = holder_.nonce;
  }
  if (content.ok()) {
    auto decoded = DecodeLockHolder(*content, owner_->path_);
    if (decoded.ok() && decoded->nonce == nonce) return absl::OkStatus();
    if (decoded.ok()) {
      return absl::AbortedError(absl::StrCat(
          "lock '", owner_->path_, "': lost to ", decoded->host, " pid ",
          decoded->pid, " (our lease expired)"));
    }
  }
  return absl::AbortedError(
      absl::StrCat("lock '", owner_->path_, "': lost (no longer ours)"));
}

absl::Status HeldLock::SetGeneration(uint64_t generation) {
  std::lock_guard<std::mutex> guard(mutex_);
  holder_.generation = generation;
  return WriteHolderLocked();
}

absl::Status HeldLock::Release() {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    if (released_) return absl::OkStatus();
    released_ = true;
    stop_ = true;
  }
  cv_.notify_all();
  if (renewer_.joinable()) renewer_.join();
  // Move the lock aside, then check whose it was: if it is not ours (taken
  // over meanwhile), put it back with link(), which never replaces a newer
  // lock.
  const std::string& path = owner_->path_;
  const std::string aside =
      absl::StrFormat("%s.released-%016x", path, holder_.nonce);
  if (::rename(path.c_str(), aside.c_str()) != 0) {
    return errno == ENOENT ? absl::OkStatus()
                           : absl::InternalError(absl::StrCat(
                                 "lock '", path, "': release: ", ErrnoText(errno)));
  }
  auto content = ReadByPath(aside);
  absl::Status status;
  if (content.ok()) {
    auto decoded = DecodeLockHolder(*content, path);
    if (!decoded.ok() || decoded->nonce != holder_.nonce) {
      if (::link(aside.c_str(), path.c_str()) != 0 && errno != EEXIST) {
        status = absl::InternalError(absl::StrCat(
            "lock '", path, "': restore taken-over lock: ", ErrnoText(errno)));
      }
    }
  }
  ::unlink(aside.c_str());
  fd_.Reset();
  return status;
}

}  // namespace syncstream::file
