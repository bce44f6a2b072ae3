// Test helpers for the transport: unique socket paths and a one-shot server
// that accepts connections on a thread.
#ifndef SYNCSTREAM_NET_TESTING_TEST_SERVER_H_
#define SYNCSTREAM_NET_TESTING_TEST_SERVER_H_

#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "syncstream/net/listener.h"

namespace syncstream::net::testing {

// A Unix socket address unique to this process and call, short enough for
// sun_path ($TEST_TMPDIR when it fits, /tmp otherwise).
inline Address UniqueUnixAddress() {
  static std::atomic<int> counter{0};
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string dir = tmp != nullptr ? tmp : "/tmp";
  std::string name = absl::StrCat("ss-", ::getpid(), "-",
                                  std::random_device()() % 100000, "-",
                                  counter++, ".sock");
  if (dir.size() + name.size() + 2 > 100) dir = "/tmp";
  Address address;
  address.family = Address::Family::kUnix;
  address.path = absl::StrCat(dir, "/", name);
  return address;
}

inline Address LoopbackAddress() {
  Address address;
  address.host = "127.0.0.1";
  address.port = 0;
  return address;
}

// Runs `serve` on a thread with the listener; joins on destruction.
class ServerThread {
 public:
  ServerThread(std::unique_ptr<Listener> listener,
               std::function<void(Listener&)> serve)
      : listener_(std::move(listener)),
        thread_([this, serve = std::move(serve)] { serve(*listener_); }) {}
  ~ServerThread() { Join(); }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  const Address& address() const { return listener_->address(); }

 private:
  std::unique_ptr<Listener> listener_;
  std::thread thread_;
};

}  // namespace syncstream::net::testing

#endif  // SYNCSTREAM_NET_TESTING_TEST_SERVER_H_
