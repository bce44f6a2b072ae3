#include "syncstream/net/listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "syncstream/core/deadline.h"
#include "syncstream/core/status_macros.h"

namespace syncstream::net {
namespace {

// Whether something accepts connections on the Unix socket `path`.
bool UnixSocketIsLive(const SocketAddress& target) {
  UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!probe.valid()) return true;  // cannot tell: do not remove it
  int rc = ::connect(probe.get(),
                     reinterpret_cast<const sockaddr*>(&target.storage),
                     target.length);
  return rc == 0 || errno != ECONNREFUSED;
}

absl::Status BindTo(int fd, const SocketAddress& target,
                    const Address& address) {
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&target.storage),
             target.length) == 0) {
    return absl::OkStatus();
  }
  if (errno == EADDRINUSE && address.is_unix()) {
    struct stat st;
    if (::lstat(address.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) &&
        !UnixSocketIsLive(target)) {
      ::unlink(address.path.c_str());  // left behind by a dead server
      if (::bind(fd, reinterpret_cast<const sockaddr*>(&target.storage),
                 target.length) == 0) {
        return absl::OkStatus();
      }
    } else {
      return absl::AlreadyExistsError(
          absl::StrCat("listen on ", address.ToString(),
                       ": the path exists and is in use (another server?)"));
    }
  }
  return absl::UnavailableError(absl::StrCat(
      "listen on ", address.ToString(), ": bind: ", std::strerror(errno)));
}

}  // namespace

Listener::Listener(UniqueFd socket, UniqueFd wakeup, Address address,
                   ConnectionOptions options)
    : socket_(std::move(socket)),
      wakeup_(std::move(wakeup)),
      address_(std::move(address)),
      options_(std::move(options)) {}

Listener::~Listener() {
  if (address_.is_unix() && socket_.valid()) {
    ::unlink(address_.path.c_str());
  }
}

absl::StatusOr<std::unique_ptr<Listener>> Listener::Listen(
    const Address& address, ConnectionOptions options) {
  if (options.receive_budget == nullptr) {
    options.receive_budget =
        std::make_shared<ReceiveBudget>(kDefaultServerReceiveBudgetBytes);
  }
  if (options.key.empty() && !address.IsLocal()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "listen on ", address.ToString(),
        ": refusing to listen on a non-loopback address without an "
        "authentication key (use --auth-key-file or $SYNCSTREAM_AUTH_KEY)"));
  }
  SYNCSTREAM_ASSIGN_OR_RETURN(std::vector<SocketAddress> targets,
                              Resolve(address));
  const SocketAddress& target = targets.front();
  UniqueFd fd(::socket(target.family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return absl::InternalError(absl::StrCat(
        "listen on ", address.ToString(), ": socket: ", std::strerror(errno)));
  }
  if (!address.is_unix()) {
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  }
  SYNCSTREAM_RETURN_IF_ERROR(BindTo(fd.get(), target, address));
  // Without a key, a Unix socket is for this user only, whatever the umask
  // (made so before listen(): nobody can connect in between).
  if (address.is_unix() && options.key.empty() &&
      ::chmod(address.path.c_str(), 0600) != 0) {
    const int error = errno;
    ::unlink(address.path.c_str());
    return absl::InternalError(absl::StrCat("listen on ", address.ToString(),
                                            ": chmod 0600: ",
                                            std::strerror(error)));
  }
  if (::listen(fd.get(), SOMAXCONN) != 0) {
    return absl::UnavailableError(absl::StrCat(
        "listen on ", address.ToString(), ": listen: ", std::strerror(errno)));
  }
  Address bound = address;
  if (!address.is_unix()) {
    sockaddr_storage storage{};
    socklen_t length = sizeof(storage);
    if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&storage),
                      &length) == 0) {
      if (storage.ss_family == AF_INET) {
        bound.port = ntohs(reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
      } else if (storage.ss_family == AF_INET6) {
        bound.port =
            ntohs(reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port);
      }
    }
  }
  UniqueFd wakeup(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wakeup.valid()) {
    return absl::InternalError(absl::StrCat(
        "listen on ", address.ToString(), ": eventfd: ", std::strerror(errno)));
  }
  return std::unique_ptr<Listener>(new Listener(
      std::move(fd), std::move(wakeup), std::move(bound), std::move(options)));
}

absl::StatusOr<Listener::AcceptedSocket> Listener::AcceptSocket(
    absl::Duration timeout) {
  const absl::Time deadline = DeadlineAfter(timeout);
  for (;;) {
    pollfd fds[2] = {{socket_.get(), POLLIN, 0}, {wakeup_.get(), POLLIN, 0}};
    absl::Duration left = TimeLeft(deadline);
    int ms = left == absl::InfiniteDuration()
                 ? -1
                 : static_cast<int>(std::min<int64_t>(
                       absl::ToInt64Milliseconds(left + absl::Microseconds(999)),
                       3600 * 1000));
    int rc = ::poll(fds, 2, ms);
    if (rc < 0 && errno != EINTR) {
      return absl::InternalError(absl::StrCat(
          "accept on ", address_.ToString(), ": poll: ", std::strerror(errno)));
    }
    if (fds[1].revents != 0) {
      return absl::CancelledError(
          absl::StrCat("accept on ", address_.ToString(), ": shut down"));
    }
    if (rc > 0 && fds[0].revents != 0) {
      sockaddr_storage storage{};
      socklen_t length = sizeof(storage);
      int client = ::accept4(socket_.get(),
                             reinterpret_cast<sockaddr*>(&storage), &length,
                             SOCK_CLOEXEC);
      if (client >= 0) {
        AcceptedSocket accepted;
        accepted.fd.Reset(client);
        accepted.peer = storage.ss_family == AF_UNIX
                            ? address_.ToString()
                            : DescribeSocketAddress(
                                  reinterpret_cast<sockaddr*>(&storage), length);
        if (storage.ss_family == AF_INET || storage.ss_family == AF_INET6) {
          int one = 1;
          ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one,
                       sizeof(one));
        }
        return accepted;
      }
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
          errno == ENOMEM) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "accept on ", address_.ToString(), ": ", std::strerror(errno)));
      }
      // The client may have gone already: try again.
      if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED &&
          errno != EPROTO) {
        return absl::InternalError(absl::StrCat(
            "accept on ", address_.ToString(), ": ", std::strerror(errno)));
      }
    }
    if (::syncstream::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("accept on ", address_.ToString(), ": timed out"));
    }
  }
}

absl::StatusOr<std::unique_ptr<Connection>> Listener::Accept(
    absl::Duration timeout) {
  SYNCSTREAM_ASSIGN_OR_RETURN(AcceptedSocket accepted, AcceptSocket(timeout));
  return Connection::Accept(std::move(accepted.fd), std::move(accepted.peer),
                            options_);
}

bool Listener::WaitForShutdown(absl::Duration timeout) {
  const absl::Time deadline = DeadlineAfter(timeout);
  for (;;) {
    pollfd p{wakeup_.get(), POLLIN, 0};
    const absl::Duration left = TimeLeft(deadline);
    const int ms =
        left == absl::InfiniteDuration()
            ? -1
            : static_cast<int>(std::min<int64_t>(
                  absl::ToInt64Milliseconds(left + absl::Microseconds(999)),
                  3600 * 1000));
    const int rc = ::poll(&p, 1, ms);
    if (rc > 0) return true;
    if (rc < 0 && errno == EINTR) continue;
    if (::syncstream::Now() >= deadline) return false;
  }
}

void Listener::Shutdown() {
  uint64_t one = 1;
  ssize_t n = ::write(wakeup_.get(), &one, sizeof(one));
  (void)n;
}

}  // namespace syncstream::net
