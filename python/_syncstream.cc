// _syncstream: the C++ engine under the `syncstream` Python package.
//
// This module is the thin binding; Python idioms (context managers,
// pickling, GroupedMessage, the sync-stream method names) live in the pure
// Python layer, python/syncstream/. Conventions here:
//  - Text crosses as UTF-8: a str argument is taken through its cached UTF-8
//    form (no copy for ASCII strings), records come back as str.
//  - A record read back is a str for a line, or a tuple
//    (kind, sender, type, text, trace) for anything else, kind being
//    "eof", "error" or "warning"; the Python layer turns those into
//    GroupedMessage and leaves end-of-stream records out.
//  - Calls that may block (a mirror's write on a full queue, waits) release
//    the GIL. Waits wait in slices of at most kWaitSlice and check for
//    signals between slices, so Ctrl-C interrupts them with KeyboardInterrupt.
//  - A failed absl::Status becomes an exception whose message is the
//    status's: StopIteration for a stopped mirror (as sync-stream),
//    TimeoutError for DeadlineExceeded, ValueError for InvalidArgument,
//    FileNotFoundError for NotFound, MemoryError for a full SyncQueue (as
//    pysyncq), RuntimeError otherwise.
#include <Python.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "syncstream/core/deadline.h"
#include "syncstream/core/record.h"
#include "syncstream/file/line_file_buffer.h"
#include "syncstream/host/line_host_buffer.h"
#include "syncstream/host/line_host_mirror.h"
#include "syncstream/host/line_host_reader.h"
#include "syncstream/net/address.h"
#include "syncstream/net/auth_key.h"
#include "syncstream/proc/line_proc_buffer.h"
#include "syncstream/proc/line_proc_mirror.h"
#include "syncstream/queue/sync_queue.h"
#include "syncstream/thread/line_buffer.h"

namespace py = pybind11;

namespace syncstream {
namespace {

// How long a blocking call waits without the GIL before it looks for
// signals (Ctrl-C): short enough to feel immediate, long enough to cost
// nothing.
constexpr absl::Duration kWaitSlice = absl::Milliseconds(50);

// Sets the Python exception for a failed status (see the file comment).
void SetPythonError(const absl::Status& status) {
  PyObject* type = PyExc_RuntimeError;
  switch (status.code()) {
    case absl::StatusCode::kDeadlineExceeded:
      type = PyExc_TimeoutError;
      break;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      type = PyExc_ValueError;
      break;
    case absl::StatusCode::kFailedPrecondition:
      type = PyExc_StopIteration;
      break;
    case absl::StatusCode::kNotFound:
      type = PyExc_FileNotFoundError;
      break;
    default:
      break;
  }
  PyErr_SetString(type, std::string(status.message()).c_str());
}

[[noreturn]] void Raise(const absl::Status& status) {
  SetPythonError(status);
  throw py::error_already_set();
}

void Check(const absl::Status& status) {
  if (!status.ok()) Raise(status);
}

// The UTF-8 bytes of a str argument (valid while the object lives), or a
// TypeError worded like io.TextIOBase.write's.
absl::string_view Utf8Of(py::handle text) {
  if (!PyUnicode_Check(text.ptr())) {
    PyErr_Format(PyExc_TypeError, "write() argument must be str, not %s",
                 Py_TYPE(text.ptr())->tp_name);
    throw py::error_already_set();
  }
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(text.ptr(), &size);
  if (data == nullptr) throw py::error_already_set();
  return absl::string_view(data, static_cast<size_t>(size));
}

// A str from UTF-8 bytes; bytes that are not UTF-8 (a line cut inside a
// character by another writer's process, say) become U+FFFD.
py::object Text(absl::string_view utf8) {
  PyObject* text = PyUnicode_DecodeUTF8(
      utf8.data(), static_cast<Py_ssize_t>(utf8.size()), "replace");
  if (text == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(text);
}

py::object ToPython(const Record& record) {
  if (record.is_line()) return Text(record.text);
  py::list trace;
  for (const std::string& entry : record.trace) trace.append(Text(entry));
  return py::make_tuple(Text(RecordKindName(record.kind)),
                        Text(record.sender), Text(record.type),
                        Text(record.text), trace);
}

// The last `n` records of `read(k)` (the last k records of a store) that are
// not end-of-stream records, oldest first. End-of-stream records are not
// sync-stream items, so `n` counts only the others: reads further back by as
// many end-of-stream records as it met, until it has n or the store has no
// more.
template <typename ReadLast>
std::vector<Record> LastWithoutEof(size_t n, size_t held, ReadLast read) {
  size_t want = std::min(n, held);
  for (;;) {
    std::vector<Record> records = read(want);
    size_t eofs = 0;
    for (const Record& r : records) eofs += r.is_end_of_stream();
    if (records.size() - eofs >= n || records.size() < want ||
        want >= held) {
      std::vector<Record> kept;
      kept.reserve(records.size() - eofs);
      for (Record& r : records) {
        if (!r.is_end_of_stream()) kept.push_back(std::move(r));
      }
      if (kept.size() > n) kept.erase(kept.begin(), kept.end() - n);
      return kept;
    }
    want = std::min(held, want + (n - (records.size() - eofs)));
  }
}

// Waits for `done(slice)` (which waits up to `slice` without the GIL and
// says whether it is finished) until it is, or `timeout` seconds pass (None:
// no limit). Between slices, pending signals are handled: KeyboardInterrupt
// and other exceptions from signal handlers propagate. Returns whether
// `done` finished.
template <typename WaitSlice>
bool WaitInterruptibly(std::optional<double> timeout, WaitSlice wait_slice) {
  const absl::Time deadline =
      timeout.has_value() ? DeadlineAfter(absl::Seconds(std::max(0.0, *timeout)))
                          : absl::InfiniteFuture();
  for (;;) {
    const absl::Duration left = TimeLeft(deadline);
    const absl::Duration slice = std::min(left, kWaitSlice);
    bool finished;
    {
      py::gil_scoped_release release;
      finished = wait_slice(slice);
    }
    if (finished) return true;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    if (TimeLeft(deadline) <= absl::ZeroDuration()) return false;
  }
}

// --- write() as a bare builtin ------------------------------------------------
//
// print() calls its file's write() once per argument, separator and end:
// five calls for print("worker", 3). Through pybind11 each call pays for
// argument casting and a type lookup (about 300 ns, more than the write
// itself), so each writer also offers write() as a plain METH_O builtin bound
// to its LineWriter, which the Python layer installs as the instance's
// `write`.

constexpr char kWriteTargetName[] = "syncstream.write_target";

struct WriteTarget {
  LineWriter* writer;
  bool release_gil;  // the write may block (a full queue, a lock, a disk)
  PyObject* owner;   // a strong reference: keeps `writer` alive
};

PyObject* BareWrite(PyObject* capsule, PyObject* text) {
  auto* target = static_cast<WriteTarget*>(
      PyCapsule_GetPointer(capsule, kWriteTargetName));
  if (target == nullptr) return nullptr;
  if (!PyUnicode_Check(text)) {
    PyErr_Format(PyExc_TypeError, "write() argument must be str, not %s",
                 Py_TYPE(text)->tp_name);
    return nullptr;
  }
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(text, &size);
  if (data == nullptr) return nullptr;
  const absl::string_view utf8(data, static_cast<size_t>(size));
  absl::Status status;
  if (target->release_gil) {
    Py_BEGIN_ALLOW_THREADS
    status = target->writer->Write(utf8);
    Py_END_ALLOW_THREADS
  } else {
    status = target->writer->Write(utf8);
  }
  if (!status.ok()) {
    SetPythonError(status);
    return nullptr;
  }
  return PyLong_FromSsize_t(PyUnicode_GET_LENGTH(text));
}

PyMethodDef kBareWriteDef = {
    "write", BareWrite, METH_O,
    "write(text) -> number of characters: appends text; every line it "
    "completes is stored whole."};

// `self` must be a T (one of the classes below, each with writer()).
template <typename T>
py::object BareWriteOf(py::object self, bool release_gil) {
  LineWriter* writer = self.cast<T&>().writer();
  auto* target = new WriteTarget{writer, release_gil, self.release().ptr()};
  PyObject* capsule =
      PyCapsule_New(target, kWriteTargetName, [](PyObject* capsule) {
        auto* t = static_cast<WriteTarget*>(
            PyCapsule_GetPointer(capsule, kWriteTargetName));
        Py_XDECREF(t->owner);
        delete t;
      });
  if (capsule == nullptr) {
    Py_DECREF(target->owner);
    delete target;
    throw py::error_already_set();
  }
  PyObject* function = PyCFunction_New(&kBareWriteDef, capsule);
  Py_DECREF(capsule);
  if (function == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(function);
}

// --- LineBuffer -------------------------------------------------------------

class PyLineBuffer {
 public:
  explicit PyLineBuffer(size_t maxlen) {
    LineBufferOptions options;
    absl::StatusOr<std::unique_ptr<LineBuffer>> buffer =
        LineBuffer::Create(maxlen, options);
    Check(buffer.status());
    buffer_ = *std::move(buffer);
  }

  // Returns the number of characters written, as io.TextIOBase.write does.
  Py_ssize_t Write(py::handle text) {
    Check(buffer_->Write(Utf8Of(text)));
    return PyUnicode_GET_LENGTH(text.ptr());
  }
  LineWriter* writer() { return buffer_.get(); }
  // Ends the calling thread's partial line, if it has one.
  void EndLine() { Check(buffer_->Flush()); }
  void Close() { Check(buffer_->Close()); }
  void Clear() { buffer_->Clear(); }
  size_t maxlen() const { return buffer_->maxlen(); }

  // The last `size` items (all that fit in maxlen if None): records, then
  // every writer's pending partial line (as sync-stream reads its last
  // line), oldest first.
  py::tuple Read(std::optional<Py_ssize_t> size) const {
    const size_t maxlen = buffer_->maxlen();
    size_t n = maxlen;
    if (size.has_value()) {
      if (*size <= 0) return py::tuple();
      n = static_cast<size_t>(*size);
    }
    std::vector<std::pair<std::string, std::string>> pending =
        buffer_->PendingLines();
    const size_t from_pending = std::min(pending.size(), n);
    std::vector<Record> records =
        buffer_->Read(std::min(n - from_pending, maxlen));
    // Within maxlen in all: a pending line pushes out the oldest record.
    if (!size.has_value() && records.size() + from_pending > maxlen) {
      records.erase(records.begin(),
                    records.begin() + (records.size() + from_pending - maxlen));
    }
    py::tuple out(records.size() + from_pending);
    size_t i = 0;
    for (const Record& r : records) out[i++] = ToPython(r);
    for (size_t k = pending.size() - from_pending; k < pending.size(); ++k) {
      out[i++] = Text(pending[k].second);
    }
    return out;
  }

  size_t Len() const {
    return std::min(buffer_->maxlen(),
                    buffer_->Size() + buffer_->PendingLines().size());
  }

 private:
  std::unique_ptr<LineBuffer> buffer_;
};

// --- LineProcBuffer / LineProcMirror -----------------------------------------

class PyLineProcMirror {
 public:
  explicit PyLineProcMirror(std::unique_ptr<LineProcMirror> mirror)
      : mirror_(std::move(mirror)) {}

  static std::unique_ptr<PyLineProcMirror> Attach(const std::string& token) {
    absl::StatusOr<std::unique_ptr<LineProcMirror>> mirror;
    {
      py::gil_scoped_release release;
      mirror = LineProcMirror::Attach(token);
    }
    Check(mirror.status());
    return std::make_unique<PyLineProcMirror>(*std::move(mirror));
  }

  // A full queue may make a write wait (up to the buffer's send_timeout):
  // without the GIL.
  Py_ssize_t Write(py::handle text) {
    const absl::string_view utf8 = Utf8Of(text);
    absl::Status status;
    {
      py::gil_scoped_release release;
      status = mirror_->Write(utf8);
    }
    Check(status);
    return PyUnicode_GET_LENGTH(text.ptr());
  }
  LineWriter* writer() { return mirror_.get(); }
  void EndLine() { Released([&] { return mirror_->Flush(); }); }
  void Sync() { Released([&] { return mirror_->Sync(); }); }
  void Open() { Released([&] { return mirror_->Open(); }); }
  void SendEof() { Released([&] { return mirror_->SendEof(); }); }
  void SendError(const std::string& message, std::vector<std::string> trace) {
    Released([&] { return mirror_->SendError(message, std::move(trace)); });
  }
  void SendWarning(const std::string& message,
                   std::vector<std::string> trace) {
    Released([&] { return mirror_->SendWarning(message, std::move(trace)); });
  }
  void Close() { Released([&] { return mirror_->Close(); }); }
  bool closed() const { return mirror_->closed(); }
  const std::string& name() const { return mirror_->name(); }
  const std::string& token() const { return mirror_->token(); }

 private:
  template <typename F>
  void Released(F f) {
    absl::Status status;
    {
      py::gil_scoped_release release;
      status = f();
    }
    Check(status);
  }

  std::unique_ptr<LineProcMirror> mirror_;
};

// The buffer stores end-of-stream records, one per mirror and process that
// closed it, and sync-stream does not count them: the store holds this many
// records beyond maxlen so that maxlen other records stay readable. Exact
// unless more than this many streams ended among the records held.
constexpr size_t kEndOfStreamRoom = 4096;

class PyLineProcBuffer {
 public:
  explicit PyLineProcBuffer(size_t maxlen) : maxlen_(maxlen) {
    if (maxlen == 0) Raise(absl::InvalidArgumentError("maxlen must be >= 1"));
    absl::StatusOr<std::unique_ptr<LineProcBuffer>> buffer =
        LineProcBuffer::Create(maxlen + kEndOfStreamRoom);
    Check(buffer.status());
    buffer_ = *std::move(buffer);
  }

  std::unique_ptr<PyLineProcMirror> NewMirror(const std::string& name) {
    absl::StatusOr<std::unique_ptr<LineProcMirror>> mirror =
        buffer_->NewMirror(name);
    Check(mirror.status());
    return std::make_unique<PyLineProcMirror>(*std::move(mirror));
  }

  // Returns normally once every mirror is closed, died or force-stopped;
  // TimeoutError naming the open mirrors when `timeout` passes first.
  void Wait(std::optional<double> timeout) {
    absl::Status last;
    const bool done = WaitInterruptibly(timeout, [&](absl::Duration slice) {
      last = buffer_->Wait(slice);
      return last.code() != absl::StatusCode::kDeadlineExceeded;
    });
    if (!done) {
      if (last.ok()) last = buffer_->Wait(absl::ZeroDuration());
      if (!last.ok()) {
        Raise(absl::DeadlineExceededError(
            absl::StrCat("wait(timeout=", *timeout, "): ", last.message())));
      }
    }
    Check(last);
  }

  py::tuple Read(std::optional<Py_ssize_t> size) const {
    size_t n = maxlen_;
    if (size.has_value()) {
      if (*size <= 0) return py::tuple();
      n = std::min(n, static_cast<size_t>(*size));
    }
    std::vector<Record> records = LastWithoutEof(
        n, buffer_->Size(), [&](size_t k) { return buffer_->Read(k); });
    py::tuple out(records.size());
    for (size_t i = 0; i < records.size(); ++i) out[i] = ToPython(records[i]);
    return out;
  }
  size_t Len() const {
    return LastWithoutEof(maxlen_, buffer_->Size(),
                          [&](size_t k) { return buffer_->Read(k); })
        .size();
  }

  void Clear() { buffer_->Clear(); }
  void StopAllMirrors() { buffer_->StopAllMirrors(); }
  void ForceStop() { buffer_->ForceStop(); }
  void Reset() {
    py::gil_scoped_release release;
    buffer_->Reset();
  }
  size_t maxlen() const { return maxlen_; }
  const std::string& queue_name() const { return buffer_->queue_name(); }
  // (name, state, pid) of every mirror registered since creation or Reset.
  std::vector<std::tuple<std::string, std::string, int>> Mirrors() const {
    std::vector<std::tuple<std::string, std::string, int>> out;
    for (const MirrorInfo& m : buffer_->Mirrors()) {
      out.emplace_back(m.name, std::string(MirrorStateName(m.state)),
                       static_cast<int>(m.pid));
    }
    return out;
  }

 private:
  const size_t maxlen_;
  std::unique_ptr<LineProcBuffer> buffer_;
};

// --- LineFileBuffer ---------------------------------------------------------

// Every call may wait for the directory's lock or the disk: all of them run
// without the GIL.
class PyLineFileBuffer {
 public:
  PyLineFileBuffer(const std::string& path, size_t maxlen,
                   const std::string& name, double lock_timeout,
                   double flush_interval) {
    file::LineFileBufferOptions options;
    options.maxlen = maxlen;
    options.writer.name = name;
    options.lock_timeout = absl::Seconds(lock_timeout);
    options.flush_interval = absl::Seconds(flush_interval);
    absl::StatusOr<std::unique_ptr<file::LineFileBuffer>> buffer;
    {
      py::gil_scoped_release release;
      buffer = file::LineFileBuffer::Open(path, std::move(options));
    }
    Check(buffer.status());
    buffer_ = *std::move(buffer);
  }
  ~PyLineFileBuffer() {
    py::gil_scoped_release release;
    buffer_.reset();  // commits what is queued
  }

  Py_ssize_t Write(py::handle text) {
    const absl::string_view utf8 = Utf8Of(text);
    Released([&] { return buffer_->Write(utf8); });
    return PyUnicode_GET_LENGTH(text.ptr());
  }
  LineWriter* writer() { return buffer_.get(); }
  void EndLine() { Released([&] { return buffer_->Flush(); }); }
  void SendEof() { Released([&] { return buffer_->SendEof(); }); }
  void SendError(const std::string& message, std::vector<std::string> trace) {
    Released([&] { return buffer_->SendError(message, std::move(trace)); });
  }
  void SendWarning(const std::string& message,
                   std::vector<std::string> trace) {
    Released([&] { return buffer_->SendWarning(message, std::move(trace)); });
  }
  void Commit() { Released([&] { return buffer_->Commit(); }); }
  void Clear() { Released([&] { return buffer_->Clear(); }); }

  // The last `size` records committed by any process (this one's queue is
  // committed first), without end-of-stream records, then this process's
  // partial lines, as LineBuffer.read.
  py::tuple Read(std::optional<Py_ssize_t> size) {
    const size_t maxlen = buffer_->maxlen();
    size_t n = maxlen;
    if (size.has_value()) {
      if (*size <= 0) return py::tuple();
      n = std::min(maxlen, static_cast<size_t>(*size));
    }
    std::vector<std::pair<std::string, std::string>> pending =
        buffer_->PendingLines();
    const size_t from_pending = std::min(pending.size(), n);
    absl::Status failed;
    std::vector<Record> records;
    {
      py::gil_scoped_release release;
      absl::StatusOr<size_t> held = buffer_->Size();
      if (!held.ok()) {
        failed = held.status();
      } else {
        records = LastWithoutEof(n - from_pending, *held, [&](size_t k) {
          absl::StatusOr<std::vector<Record>> read = buffer_->Read(k);
          if (!read.ok()) {
            if (failed.ok()) failed = read.status();
            return std::vector<Record>();
          }
          return *std::move(read);
        });
      }
    }
    Check(failed);
    py::tuple out(records.size() + from_pending);
    size_t i = 0;
    for (const Record& r : records) out[i++] = ToPython(r);
    for (size_t k = pending.size() - from_pending; k < pending.size(); ++k) {
      out[i++] = Text(pending[k].second);
    }
    return out;
  }

  size_t maxlen() const { return buffer_->maxlen(); }
  const std::string& path() const { return buffer_->path(); }

 private:
  template <typename F>
  void Released(F f) {
    absl::Status status;
    {
      py::gil_scoped_release release;
      status = f();
    }
    Check(status);
  }

  std::unique_ptr<file::LineFileBuffer> buffer_;
};

// --- LineHostBuffer / LineHostMirror / LineHostReader -------------------------

net::Address ParsedAddress(const std::string& text) {
  absl::StatusOr<net::Address> address = net::ParseAddress(text);
  Check(address.status());
  return *std::move(address);
}

// The key from bytes, or none for an empty one (loopback and Unix sockets
// only: the C++ side refuses a remote address without a key).
net::AuthKey KeyOf(const std::string& bytes) {
  if (bytes.empty()) return net::AuthKey();
  absl::StatusOr<net::AuthKey> key = net::AuthKey::FromBytes(bytes);
  Check(key.status());
  return *std::move(key);
}

absl::Duration SecondsOr30(std::optional<double> seconds) {
  return absl::Seconds(seconds.has_value() ? *seconds : 30.0);
}

template <typename Read>
py::tuple RecordsToPython(std::optional<Py_ssize_t> size, size_t maxlen,
                          size_t held, Read read) {
  size_t n = maxlen;
  if (size.has_value()) {
    if (*size <= 0) return py::tuple();
    n = std::min(maxlen, static_cast<size_t>(*size));
  }
  std::vector<Record> records;
  {
    py::gil_scoped_release release;
    records = LastWithoutEof(n, held, read);
  }
  py::tuple out(records.size());
  for (size_t i = 0; i < records.size(); ++i) out[i] = ToPython(records[i]);
  return out;
}

class PyLineHostBuffer {
 public:
  PyLineHostBuffer(const std::string& address, size_t maxlen,
                   const std::string& key) {
    LineHostBufferOptions options;
    options.listen = ParsedAddress(address);
    options.maxlen = maxlen;
    options.key = KeyOf(key);
    absl::StatusOr<std::unique_ptr<LineHostBuffer>> buffer;
    {
      py::gil_scoped_release release;
      buffer = LineHostBuffer::Start(std::move(options));
    }
    Check(buffer.status());
    buffer_ = *std::move(buffer);
  }
  ~PyLineHostBuffer() {
    py::gil_scoped_release release;
    buffer_.reset();
  }

  py::tuple Read(std::optional<Py_ssize_t> size) const {
    return RecordsToPython(size, buffer_->maxlen(), buffer_->Size(),
                           [&](size_t k) { return buffer_->Read(k); });
  }
  size_t Len() const {
    return LastWithoutEof(buffer_->maxlen(), buffer_->Size(),
                          [&](size_t k) { return buffer_->Read(k); })
        .size();
  }
  std::string address() const { return buffer_->address().ToString(); }
  size_t maxlen() const { return buffer_->maxlen(); }
  void Clear() { buffer_->Clear(); }
  void StopAllMirrors() { buffer_->StopAllMirrors(); }
  void ResetStates() { buffer_->ResetStates(); }
  bool stopped() const { return buffer_->stopped(); }
  void Shutdown() {
    py::gil_scoped_release release;
    buffer_->Shutdown();
  }

 private:
  std::unique_ptr<LineHostBuffer> buffer_;
};

class PyLineHostMirror {
 public:
  PyLineHostMirror(const std::string& address, const std::string& key,
                   const std::string& name, std::optional<double> timeout) {
    LineHostMirrorOptions options;
    options.collector = ParsedAddress(address);
    options.key = KeyOf(key);
    options.writer.name = name;
    if (timeout.has_value()) {
      options.connect_timeout = absl::Seconds(*timeout);
      options.block_timeout = absl::Seconds(*timeout);
    }
    timeout_ = SecondsOr30(timeout);
    absl::StatusOr<std::unique_ptr<LineHostMirror>> mirror;
    {
      py::gil_scoped_release release;
      mirror = LineHostMirror::Create(std::move(options));
    }
    Check(mirror.status());
    mirror_ = *std::move(mirror);
  }
  ~PyLineHostMirror() {
    py::gil_scoped_release release;
    mirror_.reset();  // Close()s
  }

  // A full send queue may make a write wait: without the GIL.
  Py_ssize_t Write(py::handle text) {
    const absl::string_view utf8 = Utf8Of(text);
    Released([&] { return mirror_->Write(utf8); });
    return PyUnicode_GET_LENGTH(text.ptr());
  }
  LineWriter* writer() { return mirror_.get(); }
  void EndLine() { Released([&] { return mirror_->Flush(); }); }
  void Sync() { Released([&] { return mirror_->Sync(timeout_); }); }
  void SendEof() { Released([&] { return mirror_->SendEof(); }); }
  void SendError(const std::string& message, std::vector<std::string> trace) {
    Released([&] { return mirror_->SendError(message, std::move(trace)); });
  }
  void SendWarning(const std::string& message,
                   std::vector<std::string> trace) {
    Released([&] { return mirror_->SendWarning(message, std::move(trace)); });
  }
  void Close() { Released([&] { return mirror_->Close(timeout_); }); }

 private:
  template <typename F>
  void Released(F f) {
    absl::Status status;
    {
      py::gil_scoped_release release;
      status = f();
    }
    Check(status);
  }

  absl::Duration timeout_;
  std::unique_ptr<LineHostMirror> mirror_;
};

class PyLineHostReader {
 public:
  PyLineHostReader(const std::string& address, const std::string& key,
                   std::optional<double> timeout)
      : timeout_(SecondsOr30(timeout)) {
    const net::Address collector = ParsedAddress(address);
    const net::AuthKey auth = KeyOf(key);
    absl::StatusOr<std::unique_ptr<LineHostReader>> reader;
    {
      py::gil_scoped_release release;
      reader = LineHostReader::Connect(collector, auth, timeout_);
    }
    Check(reader.status());
    reader_ = *std::move(reader);
  }

  py::tuple Read(std::optional<Py_ssize_t> size) {
    absl::StatusOr<HostInfo> info;
    {
      py::gil_scoped_release release;
      info = reader_->Info(timeout_);
    }
    Check(info.status());
    absl::Status failed;
    py::tuple out = RecordsToPython(size, info->maxlen, info->size,
                                    [&](size_t k) {
      absl::StatusOr<std::vector<Record>> read = reader_->Read(k, timeout_);
      if (!read.ok()) {
        if (failed.ok()) failed = read.status();
        return std::vector<Record>();
      }
      return *std::move(read);
    });
    Check(failed);
    return out;
  }
  // (size, maxlen, stopped) of the collector.
  std::tuple<size_t, size_t, bool> Info() {
    absl::StatusOr<HostInfo> info;
    {
      py::gil_scoped_release release;
      info = reader_->Info(timeout_);
    }
    Check(info.status());
    return {info->size, info->maxlen, info->stopped};
  }
  void Clear() { Released([&] { return reader_->Clear(timeout_); }); }
  void StopAllMirrors() {
    Released([&] { return reader_->StopAllMirrors(timeout_); });
  }
  void ResetStates() {
    Released([&] { return reader_->ResetStates(timeout_); });
  }

 private:
  template <typename F>
  void Released(F f) {
    absl::Status status;
    {
      py::gil_scoped_release release;
      status = f();
    }
    Check(status);
  }

  const absl::Duration timeout_;
  std::unique_ptr<LineHostReader> reader_;
};

// --- SyncQueue (for PySyncQ) ---------------------------------------------------

// One process's handle on a named queue and, once attached, its participant.
class PySyncQueue {
 public:
  PySyncQueue(const std::string& name, size_t size) {
    absl::StatusOr<SyncQueue> queue;
    {
      py::gil_scoped_release release;
      queue = SyncQueue::OpenOrCreate(name, size);
    }
    Check(queue.status());
    queue_.emplace(*std::move(queue));
  }

  void Attach(const std::string& sender, bool screen_own) {
    AttachOptions options;
    options.screen_own_messages = screen_own;
    absl::StatusOr<QueueParticipant> me;
    {
      py::gil_scoped_release release;
      me = queue_->Attach(sender, QueueRole::kBoth, options);
    }
    Check(me.status());
    me_.emplace(*std::move(me));
  }

  // timeout: None waits for space for ever (in slices, Ctrl-C works).
  void Append(const std::string& type, const std::string& body, bool block,
              std::optional<double> timeout) {
    QueueParticipant& me = Participant();
    absl::Status last;
    if (!block) {
      last = me.Append(type, body, AppendOptions{false, absl::ZeroDuration()});
    } else {
      WaitInterruptibly(timeout, [&](absl::Duration slice) {
        last = me.Append(type, body, AppendOptions{true, slice});
        return last.code() != absl::StatusCode::kResourceExhausted;
      });
    }
    if (last.code() == absl::StatusCode::kResourceExhausted) {
      PyErr_SetString(PyExc_MemoryError,
                      absl::StrCat("queue '", queue_->name(),
                                   "': ", last.message())
                          .c_str());
      throw py::error_already_set();
    }
    Check(last);
  }

  // (sender, type, body) as bytes, or None when nothing came in time
  // (timeout None: wait for ever, in slices).
  py::object Pop(std::optional<double> timeout) {
    QueueParticipant& me = Participant();
    std::optional<QueueMessage> message;
    absl::Status failed;
    auto pop_for = [&](absl::Duration slice) {
      PopOptions options;
      options.timeout = slice;
      absl::StatusOr<std::optional<QueueMessage>> popped = me.Pop(options);
      if (!popped.ok()) {
        failed = popped.status();
        return true;
      }
      message = *std::move(popped);
      return message.has_value();
    };
    if (timeout.has_value() && *timeout <= 0) {
      pop_for(absl::ZeroDuration());
    } else {
      WaitInterruptibly(timeout, pop_for);
    }
    Check(failed);
    if (!message.has_value()) return py::none();
    return py::make_tuple(py::bytes(message->sender), py::bytes(message->type),
                          py::bytes(message->body));
  }

  void ScreenSender(const std::string& s, bool on) {
    on ? Participant().ScreenSender(s) : Participant().UnscreenSender(s);
  }
  void ScreenType(const std::string& t, bool on) {
    on ? Participant().ScreenType(t) : Participant().UnscreenType(t);
  }
  std::vector<std::string> screened_senders() {
    return Participant().screened_senders();
  }

  void Close() {
    if (!me_.has_value()) return;
    absl::Status closed;
    {
      py::gil_scoped_release release;
      closed = me_->Close();
    }
    me_.reset();
    Check(closed);
  }
  bool attached() const { return me_.has_value(); }
  const std::string& name() const { return queue_->name(); }
  size_t capacity() const { return queue_->capacity_bytes(); }

 private:
  QueueParticipant& Participant() {
    if (!me_.has_value()) {
      Raise(absl::FailedPreconditionError(absl::StrCat(
          "queue '", queue_->name(), "': open(sender) this process first")));
    }
    return *me_;
  }

  std::optional<SyncQueue> queue_;
  std::optional<QueueParticipant> me_;
};

}  // namespace
}  // namespace syncstream

PYBIND11_MODULE(_syncstream, m) {
  using namespace syncstream;
  m.doc() = "The C++ engine of the syncstream package (use `syncstream`).";

  py::class_<PyLineBuffer>(m, "LineBuffer")
      .def(py::init<size_t>(), py::arg("maxlen"))
      .def("write", &PyLineBuffer::Write)
      .def("bare_write", [](py::object self) {
        // A LineBuffer's write never blocks: the GIL stays held.
        return BareWriteOf<PyLineBuffer>(std::move(self), false);
      })
      .def("end_line", &PyLineBuffer::EndLine)
      .def("close", &PyLineBuffer::Close)
      .def("clear", &PyLineBuffer::Clear)
      .def("read", &PyLineBuffer::Read, py::arg("size") = py::none())
      .def("__len__", &PyLineBuffer::Len)
      .def_property_readonly("maxlen", &PyLineBuffer::maxlen);

  py::class_<PyLineProcMirror>(m, "LineProcMirror")
      .def_static("attach", &PyLineProcMirror::Attach, py::arg("token"))
      .def("write", &PyLineProcMirror::Write)
      .def("bare_write", [](py::object self) {
        return BareWriteOf<PyLineProcMirror>(std::move(self), true);
      })
      .def("end_line", &PyLineProcMirror::EndLine)
      .def("sync", &PyLineProcMirror::Sync)
      .def("open", &PyLineProcMirror::Open)
      .def("send_eof", &PyLineProcMirror::SendEof)
      .def("send_error", &PyLineProcMirror::SendError)
      .def("send_warning", &PyLineProcMirror::SendWarning)
      .def("close", &PyLineProcMirror::Close)
      .def_property_readonly("closed", &PyLineProcMirror::closed)
      .def_property_readonly("name", &PyLineProcMirror::name)
      .def_property_readonly("token", &PyLineProcMirror::token);

  py::class_<PyLineFileBuffer>(m, "LineFileBuffer")
      .def(py::init<const std::string&, size_t, const std::string&, double,
                    double>(),
           py::arg("path"), py::arg("maxlen"), py::arg("name"),
           py::arg("lock_timeout"), py::arg("flush_interval"))
      .def("write", &PyLineFileBuffer::Write)
      .def("bare_write", [](py::object self) {
        return BareWriteOf<PyLineFileBuffer>(std::move(self), true);
      })
      .def("end_line", &PyLineFileBuffer::EndLine)
      .def("send_eof", &PyLineFileBuffer::SendEof)
      .def("send_error", &PyLineFileBuffer::SendError)
      .def("send_warning", &PyLineFileBuffer::SendWarning)
      .def("commit", &PyLineFileBuffer::Commit)
      .def("clear", &PyLineFileBuffer::Clear)
      .def("read", &PyLineFileBuffer::Read, py::arg("size") = py::none())
      .def_property_readonly("maxlen", &PyLineFileBuffer::maxlen)
      .def_property_readonly("path", &PyLineFileBuffer::path);

  py::class_<PyLineHostBuffer>(m, "LineHostBuffer")
      .def(py::init<const std::string&, size_t, const std::string&>(),
           py::arg("address"), py::arg("maxlen"), py::arg("key"))
      .def("read", &PyLineHostBuffer::Read, py::arg("size") = py::none())
      .def("__len__", &PyLineHostBuffer::Len)
      .def("clear", &PyLineHostBuffer::Clear)
      .def("stop_all_mirrors", &PyLineHostBuffer::StopAllMirrors)
      .def("reset_states", &PyLineHostBuffer::ResetStates)
      .def("shutdown", &PyLineHostBuffer::Shutdown)
      .def_property_readonly("stopped", &PyLineHostBuffer::stopped)
      .def_property_readonly("address", &PyLineHostBuffer::address)
      .def_property_readonly("maxlen", &PyLineHostBuffer::maxlen);

  py::class_<PyLineHostMirror>(m, "LineHostMirror")
      .def(py::init<const std::string&, const std::string&, const std::string&,
                    std::optional<double>>(),
           py::arg("address"), py::arg("key"), py::arg("name"),
           py::arg("timeout"))
      .def("write", &PyLineHostMirror::Write)
      .def("bare_write", [](py::object self) {
        return BareWriteOf<PyLineHostMirror>(std::move(self), true);
      })
      .def("end_line", &PyLineHostMirror::EndLine)
      .def("sync", &PyLineHostMirror::Sync)
      .def("send_eof", &PyLineHostMirror::SendEof)
      .def("send_error", &PyLineHostMirror::SendError)
      .def("send_warning", &PyLineHostMirror::SendWarning)
      .def("close", &PyLineHostMirror::Close);

  py::class_<PyLineHostReader>(m, "LineHostReader")
      .def(py::init<const std::string&, const std::string&,
                    std::optional<double>>(),
           py::arg("address"), py::arg("key"), py::arg("timeout"))
      .def("read", &PyLineHostReader::Read, py::arg("size") = py::none())
      .def("info", &PyLineHostReader::Info)
      .def("clear", &PyLineHostReader::Clear)
      .def("stop_all_mirrors", &PyLineHostReader::StopAllMirrors)
      .def("reset_states", &PyLineHostReader::ResetStates);

  py::class_<PySyncQueue>(m, "SyncQueue")
      .def(py::init<const std::string&, size_t>(), py::arg("name"),
           py::arg("size"))
      .def("attach", &PySyncQueue::Attach, py::arg("sender"),
           py::arg("screen_own"))
      .def("append", &PySyncQueue::Append, py::arg("type"), py::arg("body"),
           py::arg("block"), py::arg("timeout"))
      .def("pop", &PySyncQueue::Pop, py::arg("timeout"))
      .def("screen_sender", &PySyncQueue::ScreenSender)
      .def("screen_type", &PySyncQueue::ScreenType)
      .def("screened_senders", &PySyncQueue::screened_senders)
      .def("close", &PySyncQueue::Close)
      .def_property_readonly("attached", &PySyncQueue::attached)
      .def_property_readonly("name", &PySyncQueue::name)
      .def_property_readonly("capacity", &PySyncQueue::capacity);

  py::class_<PyLineProcBuffer>(m, "LineProcBuffer")
      .def(py::init<size_t>(), py::arg("maxlen"))
      .def("new_mirror", &PyLineProcBuffer::NewMirror, py::arg("name"))
      .def("wait", &PyLineProcBuffer::Wait, py::arg("timeout") = py::none())
      .def("read", &PyLineProcBuffer::Read, py::arg("size") = py::none())
      .def("__len__", &PyLineProcBuffer::Len)
      .def("clear", &PyLineProcBuffer::Clear)
      .def("stop_all_mirrors", &PyLineProcBuffer::StopAllMirrors)
      .def("force_stop", &PyLineProcBuffer::ForceStop)
      .def("reset", &PyLineProcBuffer::Reset)
      .def("mirrors", &PyLineProcBuffer::Mirrors)
      .def_property_readonly("maxlen", &PyLineProcBuffer::maxlen)
      .def_property_readonly("queue_name", &PyLineProcBuffer::queue_name);
}
