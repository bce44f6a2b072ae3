#include "syncstream/proc/internal/control_block.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "syncstream/core/shared_memory_names.h"
#include "syncstream/core/unique_fd.h"

namespace syncstream::proc_internal {

struct ControlBlock::Layout {
  uint32_t magic;
  uint16_t version;
  uint16_t size;
  std::atomic<uint32_t> stopped_through;
  uint32_t batch_records;
  uint64_t batch_bytes;
  int64_t flush_interval_ns;
  int64_t send_timeout_ns;
  uint64_t max_line_length;
};

namespace {

constexpr uint32_t kControlMagic = 0x43505353;  // "SSPC"
constexpr uint16_t kControlVersion = 1;
static_assert(std::atomic<uint32_t>::is_always_lock_free,
              "the stop word is shared between processes");

std::string Describe(absl::string_view queue_name) {
  return absl::StrCat("proc control block of queue '", queue_name, "'");
}

}  // namespace

absl::Status ValidateMirrorSettings(const MirrorSettings& s,
                                    size_t max_body_bytes) {
  if (s.batch_bytes < 256 || s.batch_bytes > max_body_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_bytes ", s.batch_bytes, " outside [256, ",
                     max_body_bytes,
                     "] (the queue's largest message: lower batch_bytes or raise "
                     "queue_bytes)"));
  }
  if (s.batch_records < 1 || s.batch_records > (1u << 20)) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_records ", s.batch_records, " outside [1, 2^20]"));
  }
  if (s.flush_interval < absl::ZeroDuration() ||
      s.flush_interval > absl::Seconds(10)) {
    return absl::InvalidArgumentError(
        absl::StrCat("flush_interval ", absl::FormatDuration(s.flush_interval),
                     " outside [0, 10s]"));
  }
  if (s.send_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("negative send_timeout");
  }
  if (s.max_line_length < 4 || s.max_line_length > max_body_bytes / 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_line_length ", s.max_line_length, " outside [4, ",
                     max_body_bytes / 2,
                     "] (half the queue's largest message: lower max_line_length or "
                     "raise queue_bytes)"));
  }
  return absl::OkStatus();
}

constexpr absl::string_view kSegmentPrefix = "syncstream-proc.";

std::string ControlBlock::SegmentName(absl::string_view queue_name) {
  return absl::StrCat("/", kSegmentPrefix, queue_name);
}

absl::StatusOr<std::vector<std::string>> ControlBlock::List() {
  return SharedMemoryNames(kSegmentPrefix);
}

absl::Status ControlBlock::Remove(absl::string_view queue_name) {
  const std::string name = SegmentName(queue_name);
  return RemoveSharedMemory(name,
                            absl::StrCat(Describe(queue_name), ": cannot remove /dev/shm", name));
}

absl::StatusOr<ControlBlock> ControlBlock::Create(
    absl::string_view queue_name, const MirrorSettings& settings,
    size_t max_body_bytes) {
  absl::Status valid = ValidateMirrorSettings(settings, max_body_bytes);
  if (!valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Describe(queue_name), ": ", valid.message()));
  }
  std::string name = SegmentName(queue_name);
  UniqueFd fd(::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
                         0600));
  if (!fd) {
    return absl::Status(
        errno == EEXIST ? absl::StatusCode::kAlreadyExists
                        : absl::StatusCode::kInternal,
        absl::StrCat(Describe(queue_name), ": shm_open: ", strerror(errno)));
  }
  if (::ftruncate(fd.get(), sizeof(Layout)) != 0) {
    int error = errno;
    ::shm_unlink(name.c_str());
    return absl::InternalError(
        absl::StrCat(Describe(queue_name), ": ftruncate: ", strerror(error)));
  }
  void* memory = ::mmap(nullptr, sizeof(Layout), PROT_READ | PROT_WRITE,
                        MAP_SHARED, fd.get(), 0);
  if (memory == MAP_FAILED) {
    int error = errno;
    ::shm_unlink(name.c_str());
    return absl::InternalError(
        absl::StrCat(Describe(queue_name), ": mmap: ", strerror(error)));
  }
  Layout* layout = new (memory) Layout();
  layout->stopped_through.store(0, std::memory_order_relaxed);
  layout->batch_records = settings.batch_records;
  layout->batch_bytes = settings.batch_bytes;
  layout->flush_interval_ns = absl::ToInt64Nanoseconds(settings.flush_interval);
  layout->send_timeout_ns =
      settings.send_timeout == absl::InfiniteDuration()
          ? -1
          : absl::ToInt64Nanoseconds(settings.send_timeout);
  layout->max_line_length = settings.max_line_length;
  layout->version = kControlVersion;
  layout->size = sizeof(Layout);
  std::atomic_thread_fence(std::memory_order_release);
  layout->magic = kControlMagic;
  return ControlBlock(layout, settings, name);
}

absl::StatusOr<ControlBlock> ControlBlock::Open(absl::string_view queue_name,
                                                size_t max_body_bytes) {
  std::string name = SegmentName(queue_name);
  UniqueFd fd(::shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0));
  if (!fd) {
    return absl::Status(
        errno == ENOENT ? absl::StatusCode::kNotFound
                        : absl::StatusCode::kInternal,
        absl::StrCat(Describe(queue_name), ": shm_open: ", strerror(errno),
                     errno == ENOENT ? " (is its LineProcBuffer gone?)" : ""));
  }
  // A buffer creates its block with mode 0600: one that another user owns,
  // or that others may write, was planted (its settings and stop word
  // would steer every mirror).
  absl::Status trusted = CheckSharedMemoryIsPrivate(fd.get(), Describe(queue_name));
  if (!trusted.ok()) return trusted;
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    return absl::InternalError(
        absl::StrCat(Describe(queue_name), ": fstat: ", strerror(errno)));
  }
  if (static_cast<size_t>(st.st_size) != sizeof(Layout)) {
    return absl::FailedPreconditionError(
        absl::StrCat(Describe(queue_name), ": size ", st.st_size,
                     ", expected ", sizeof(Layout), " (not a control block?)"));
  }
  void* memory = ::mmap(nullptr, sizeof(Layout), PROT_READ | PROT_WRITE,
                        MAP_SHARED, fd.get(), 0);
  if (memory == MAP_FAILED) {
    return absl::InternalError(
        absl::StrCat(Describe(queue_name), ": mmap: ", strerror(errno)));
  }
  Layout* layout = static_cast<Layout*>(memory);
  absl::Status problem;
  if (layout->magic != kControlMagic) {
    problem = absl::FailedPreconditionError("magic mismatch (not a control "
                                            "block, or not initialized yet)");
  } else if (layout->version != kControlVersion ||
             layout->size != sizeof(Layout)) {
    problem = absl::FailedPreconditionError(
        absl::StrCat("version ", layout->version, " size ", layout->size,
                     ", this build reads version ", kControlVersion));
  }
  MirrorSettings settings;
  if (problem.ok()) {
    settings.batch_bytes = layout->batch_bytes;
    settings.batch_records = layout->batch_records;
    settings.flush_interval = absl::Nanoseconds(layout->flush_interval_ns);
    settings.send_timeout = layout->send_timeout_ns < 0
                                ? absl::InfiniteDuration()
                                : absl::Nanoseconds(layout->send_timeout_ns);
    settings.max_line_length = layout->max_line_length;
    problem = ValidateMirrorSettings(settings, max_body_bytes);
  }
  if (!problem.ok()) {
    ::munmap(memory, sizeof(Layout));
    return absl::Status(problem.code(), absl::StrCat(Describe(queue_name),
                                                     ": ", problem.message()));
  }
  return ControlBlock(layout, settings, "");
}

ControlBlock::ControlBlock(Layout* layout, MirrorSettings settings,
                           std::string unlink)
    : layout_(layout),
      settings_(settings),
      unlink_name_(std::move(unlink)),
      creator_(::getpid()) {}

ControlBlock::ControlBlock(ControlBlock&& other) noexcept
    : layout_(std::exchange(other.layout_, nullptr)),
      settings_(other.settings_),
      unlink_name_(std::move(other.unlink_name_)),
      creator_(other.creator_) {
  other.unlink_name_.clear();
}

ControlBlock& ControlBlock::operator=(ControlBlock&& other) noexcept {
  if (this != &other) {
    Release();
    layout_ = std::exchange(other.layout_, nullptr);
    settings_ = other.settings_;
    unlink_name_ = std::move(other.unlink_name_);
    creator_ = other.creator_;
    other.unlink_name_.clear();
  }
  return *this;
}

ControlBlock::~ControlBlock() { Release(); }

void ControlBlock::Release() {
  if (layout_ != nullptr) ::munmap(layout_, sizeof(Layout));
  layout_ = nullptr;
  // Only the creating process unlinks (not a forked copy of it).
  if (!unlink_name_.empty() && ::getpid() == creator_) {
    ::shm_unlink(unlink_name_.c_str());
  }
  unlink_name_.clear();
}

uint32_t ControlBlock::stopped_through() const {
  return layout_->stopped_through.load(std::memory_order_acquire);
}

const std::atomic<uint32_t>& ControlBlock::stopped_through_word() const {
  return layout_->stopped_through;
}

void ControlBlock::StopThrough(uint32_t generation) {
  uint32_t want = generation + 1;
  uint32_t seen = layout_->stopped_through.load(std::memory_order_relaxed);
  while (seen < want && !layout_->stopped_through.compare_exchange_weak(
                            seen, want, std::memory_order_release)) {
  }
}

}  // namespace syncstream::proc_internal
