// The "file" transport: each message becomes one file in the recipient's
// folder (AgencyConfig.transport_target), for agency systems that exchange
// files (a shared or synchronised folder).
//
//   <transport_target>/<message_id>.binpb   the recipient's Envelope, binary
//                                           protobuf (sild.v1.Envelope)
//
// The file appears atomically: it is written under a temporary name
// (<message_id>.binpb.tmp.<pid>), fsynced, renamed, and the folder fsynced,
// so a reader never sees a torn file; readers take only "*.binpb". A file
// that already exists for the message id counts as delivered (an earlier
// attempt got there before a crash). A missing or unwritable folder is
// retryable (a share may come back); no folder configured is permanent.
// Thread-safe.
#ifndef SILD_GATEWAY_EXCHANGE_TRANSPORT_FILE_H_
#define SILD_GATEWAY_EXCHANGE_TRANSPORT_FILE_H_

#include <string>

#include "gateway/exchange/transport.h"

namespace sild::exchange {

class FileTransport final : public DeliveryTransport {
 public:
  static constexpr char kName[] = "file";

  std::string name() const override { return kName; }
  DeliveryResult Deliver(const OutboxRow& row,
                         const Agency& recipient) override;

  // Where a message lands in `folder`.
  static std::string PathFor(const std::string& folder,
                             const std::string& message_id);
};

}  // namespace sild::exchange

#endif  // SILD_GATEWAY_EXCHANGE_TRANSPORT_FILE_H_
