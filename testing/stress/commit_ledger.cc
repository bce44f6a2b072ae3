#include "testing/stress/commit_ledger.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace syncstream::stress {
namespace {

absl::Status Errno(absl::string_view what) {
  return absl::InternalError(
      absl::StrCat("commit ledger: ", what, ": ", strerror(errno)));
}

}  // namespace

CommitLedger::CommitLedger(UniqueFd fd, Slot* slots, int workers)
    : fd_(std::move(fd)), slots_(slots), workers_(workers) {}

CommitLedger::CommitLedger(CommitLedger&& other) noexcept
    : fd_(std::move(other.fd_)),
      slots_(std::exchange(other.slots_, nullptr)),
      workers_(std::exchange(other.workers_, 0)) {}

CommitLedger& CommitLedger::operator=(CommitLedger&& other) noexcept {
  if (this != &other) {
    if (slots_ != nullptr) munmap(slots_, Bytes(workers_));
    fd_ = std::move(other.fd_);
    slots_ = std::exchange(other.slots_, nullptr);
    workers_ = std::exchange(other.workers_, 0);
  }
  return *this;
}

CommitLedger::~CommitLedger() {
  if (slots_ != nullptr) munmap(slots_, Bytes(workers_));
}

absl::StatusOr<CommitLedger> CommitLedger::Create(int workers) {
  if (workers < 1 || workers > (1 << 20)) {
    return absl::InvalidArgumentError(
        absl::StrCat("commit ledger: bad worker count ", workers));
  }
  UniqueFd fd(memfd_create("syncstream-stress-ledger", MFD_CLOEXEC));
  if (!fd.valid()) return Errno("memfd_create");
  if (ftruncate(fd.get(), Bytes(workers)) != 0) return Errno("ftruncate");
  void* map = mmap(nullptr, Bytes(workers), PROT_READ | PROT_WRITE, MAP_SHARED,
                   fd.get(), 0);
  if (map == MAP_FAILED) return Errno("mmap");
  // A fresh memfd reads as zeros: every counter starts at 0.
  return CommitLedger(std::move(fd), static_cast<Slot*>(map), workers);
}

absl::StatusOr<CommitLedger> CommitLedger::Attach(int raw_fd, int workers) {
  UniqueFd fd(raw_fd);
  if (workers < 1 || workers > (1 << 20)) {
    return absl::InvalidArgumentError(
        absl::StrCat("commit ledger: bad worker count ", workers));
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return Errno(absl::StrCat("fstat fd ", raw_fd));
  if (static_cast<size_t>(st.st_size) != Bytes(workers)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "commit ledger: fd ", raw_fd, " holds ", st.st_size,
        " bytes, expected ", Bytes(workers), " (not a ledger for ", workers,
        " workers?)"));
  }
  void* map = mmap(nullptr, Bytes(workers), PROT_READ | PROT_WRITE, MAP_SHARED,
                   fd.get(), 0);
  if (map == MAP_FAILED) return Errno("mmap");
  return CommitLedger(std::move(fd), static_cast<Slot*>(map), workers);
}

void CommitLedger::Record(int worker, uint64_t written, uint64_t committed) {
  slots_[worker].committed.store(committed, std::memory_order_release);
  slots_[worker].written.store(written, std::memory_order_release);
}

void CommitLedger::MarkFinished(int worker) {
  slots_[worker].finished.store(1, std::memory_order_release);
}

uint64_t CommitLedger::written(int worker) const {
  return slots_[worker].written.load(std::memory_order_acquire);
}

uint64_t CommitLedger::committed(int worker) const {
  return slots_[worker].committed.load(std::memory_order_acquire);
}

bool CommitLedger::finished(int worker) const {
  return slots_[worker].finished.load(std::memory_order_acquire) != 0;
}

uint64_t CommitLedger::total_written() const {
  uint64_t total = 0;
  for (int w = 0; w < workers_; ++w) total += written(w);
  return total;
}

}  // namespace syncstream::stress
