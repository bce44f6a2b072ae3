#include "syncstream/manager/manager.h"

#include <utility>

#include "syncstream/manager/internal/server.h"
#include "syncstream/net/listener.h"

namespace syncstream::manager {

absl::StatusOr<std::unique_ptr<Manager>> Manager::Start(
    const net::Address& address, ManagerOptions options) {
  net::ConnectionOptions connection_options;
  connection_options.service = kManagerService;
  connection_options.key = options.key;
  connection_options.max_frame_bytes = options.max_frame_bytes;
  // Replies are flushed when the request stream pauses; keep the buffer
  // small enough that a burst is still answered promptly.
  connection_options.send_buffer_bytes = 64 * 1024;
  absl::StatusOr<std::unique_ptr<net::Listener>> listener =
      net::Listener::Listen(address, std::move(connection_options));
  if (!listener.ok()) return listener.status();
  return std::unique_ptr<Manager>(
      new Manager(std::make_unique<internal::ManagerServer>(
          *std::move(listener), std::move(options))));
}

Manager::Manager(std::unique_ptr<internal::ManagerServer> server)
    : server_(std::move(server)) {}

Manager::~Manager() { Stop(); }

absl::Status Manager::RegisterType(const UserTypeDefinition& type) {
  return server_->dispatcher().RegisterType(type);
}

const net::Address& Manager::address() const { return server_->address(); }

void Manager::Stop() { server_->Stop(); }

}  // namespace syncstream::manager
