// The "file" transport: messages as files in a folder, for agencies whose
// systems exchange files (and as the example transport of docs/connectors.md).
//
//   Egress  writes <directory>/<message_id>.<extension> atomically (temporary
//           file, fsync, rename, folder fsync), so a reader never sees a torn
//           file. A file that already exists for the message id counts as
//           delivered (an earlier attempt got there before a crash). The
//           folder is created when missing, unless require_existing_directory
//           says a missing folder is retryable.
//   Ingress scans <directory> every poll_interval_ms for *.<extension>, hands
//           each file to the handler (message_id = the file name without
//           extension) and, when the handler's done reports
//            - OK: moves it to <directory>/done/;
//            - a permanent error (INVALID_ARGUMENT, PERMISSION_DENIED,
//              FAILED_PRECONDITION, or RESOURCE_EXHAUSTED with reason
//              INPUT_TOO_LARGE / INPUT_TOO_DEEP): moves it to
//              <directory>/rejected/ beside <name>.error holding
//              "REASON: field: message";
//            - anything else: leaves it and retries with doubling backoff up
//              to max_retry_backoff_ms.
//           A file is never handed over again while its done is pending.
//           Files over max_file_bytes are rejected unread (INPUT_TOO_LARGE).
//
// Trust: file names are not trusted for paths: egress refuses message ids
// that are not [A-Za-z0-9._-] (permanent), ingress ignores names that are
// not. Contents are passed on as bytes; the codec validates them.
//
// Thread safety: Deliver() may be called concurrently. Ingress runs one
// polling thread; done may be called from any thread, also after Stop().
#ifndef SILD_CONNECTORS_TRANSPORTS_FILE_FILE_TRANSPORT_H_
#define SILD_CONNECTORS_TRANSPORTS_FILE_FILE_TRANSPORT_H_

#include <memory>
#include <string>
#include <thread>

#include "connectors/sdk/transport.h"
#include "sild/connectors/v1/example.pb.h"

namespace sild::connectors {

inline constexpr char kFileTransportName[] = "file";

class FileEgressTransport final : public EgressTransport {
 public:
  explicit FileEgressTransport(
      sild::connectors::v1::FileTransportConfig config);
  std::string name() const override { return kFileTransportName; }
  DeliveryResult Deliver(const OutboundMessage& message) override;
  absl::Status health() const override;

 private:
  sild::connectors::v1::FileTransportConfig config_;
};

class FileIngressTransport final : public IngressTransport {
 public:
  explicit FileIngressTransport(
      sild::connectors::v1::FileTransportConfig config);
  ~FileIngressTransport() override;
  std::string name() const override { return kFileTransportName; }
  absl::Status Start(InboundHandler handler) override;
  void Stop() override;
  absl::Status health() const override;

  struct State;

 private:
  std::shared_ptr<State> state_;
  std::thread poller_;
};

// True for the status codes the file ingress treats as permanent refusals.
bool IsPermanentRefusal(const absl::Status& status);

}  // namespace sild::connectors

#endif  // SILD_CONNECTORS_TRANSPORTS_FILE_FILE_TRANSPORT_H_
