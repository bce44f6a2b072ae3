// ScopedRedirect: sends std::cout and/or std::cerr into a LineWriter for the
// lifetime of a scope (the counterpart of Python's contextlib.redirect_stdout).
//
//   auto buffer = LineBuffer::Create(100);
//   {
//     ScopedRedirect redirect(**buffer, RedirectStreams::kCout);
//     std::cout << "captured, one whole line per thread\n";
//   }  // std::cout writes to the terminal again
//
// The constructor installs the writer's stream buffer (LineWriter::streambuf)
// into the chosen streams and remembers the buffers it replaced; the
// destructor puts those back. Redirects nest: an inner redirect restores what
// the outer one installed. Because restoring follows scope, a ScopedRedirect
// can be neither copied nor moved.
//
// Only the C++ streams are redirected; printf, C libraries and child programs
// write to file descriptors: use ScopedFdCapture (fd_capture.h) for those.
//
// Thread safety: std::ios::rdbuf() is not synchronized, so create and destroy
// a redirect while no other thread is writing to the redirected streams
// (typically before starting the threads and after joining them). While it is
// installed, any number of threads may write concurrently; each thread has its
// own pending partial line (see line_writer.h). `writer` must outlive the
// redirect.
#ifndef SYNCSTREAM_CORE_SCOPED_REDIRECT_H_
#define SYNCSTREAM_CORE_SCOPED_REDIRECT_H_

#include <streambuf>

#include "syncstream/core/line_writer.h"

namespace syncstream {

enum class RedirectStreams {
  kCout,
  kCerr,
  kCoutAndCerr,
};

class ScopedRedirect {
 public:
  explicit ScopedRedirect(LineWriter& writer,
                          RedirectStreams streams = RedirectStreams::kCout);
  // Restores the stream buffers that were installed before.
  ~ScopedRedirect();

  ScopedRedirect(const ScopedRedirect&) = delete;
  ScopedRedirect& operator=(const ScopedRedirect&) = delete;

 private:
  const bool cout_;  // whether std::cout is redirected
  const bool cerr_;
  // The buffers replaced (restored even when they were nullptr).
  std::streambuf* saved_cout_ = nullptr;
  std::streambuf* saved_cerr_ = nullptr;
};

}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_SCOPED_REDIRECT_H_
