#include "syncstream/core/scoped_redirect.h"

#include <iostream>

namespace syncstream {

ScopedRedirect::ScopedRedirect(LineWriter& writer, RedirectStreams streams)
    : cout_(streams != RedirectStreams::kCerr),
      cerr_(streams != RedirectStreams::kCout) {
  if (cout_) {
    std::cout.flush();  // what was written before goes where it was going
    saved_cout_ = std::cout.rdbuf(writer.streambuf());
  }
  if (cerr_) {
    std::cerr.flush();
    saved_cerr_ = std::cerr.rdbuf(writer.streambuf());
  }
}

ScopedRedirect::~ScopedRedirect() {
  if (cout_) std::cout.rdbuf(saved_cout_);
  if (cerr_) std::cerr.rdbuf(saved_cerr_);
}

}  // namespace syncstream
