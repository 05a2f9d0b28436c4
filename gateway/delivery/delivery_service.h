// sild.v1.DeliveryService: operators look at deliveries and replay dead
// letters. Every call needs an agency with AGENCY_ROLE_OPERATOR
// (PERMISSION_DENIED NOT_OPERATOR otherwise).
//
// List: outbox rows without payloads, filtered by state and recipient,
// oldest first, paginated by delivery id.
//
// Replay(delivery_id) of a DEAD row re-takes the decision at replay time,
// inside the write (same sender, recipient, purpose, subject, kind and the
// categories the copy holds), so a consent withdrawn since the first attempt
// is honoured:
//  - allowed: the copy is minimised again to what the decision permits, the
//    row goes back to PENDING with attempts reset and the recipient's current
//    transport, audited ADMINISTRATIVE (ALLOW, actor = the operator);
//  - not allowed: the row becomes REFUSED_ON_REPLAY, audited ADMINISTRATIVE
//    (DENY with the decision's reason); nothing is delivered.
// A row that is not DEAD (already replayed, delivered, refused) is
// FAILED_PRECONDITION NOT_DEAD_LETTER and nothing changes, so replaying
// twice never delivers twice. Unknown ids are NOT_FOUND DELIVERY_NOT_FOUND.
//
// ListTransports: the latest health probe of every agency's connector
// transport (broker connections), from the TransportHealthMonitor.
// Thread-safe.
#ifndef SILD_GATEWAY_DELIVERY_DELIVERY_SERVICE_H_
#define SILD_GATEWAY_DELIVERY_DELIVERY_SERVICE_H_

#include "gateway/delivery/outbox_store.h"
#include "gateway/exchange/dispatch.h"
#include "sild/v1/delivery_service.grpc.pb.h"

namespace sild::delivery {

class DeliveryServiceImpl final
    : public sild::v1::DeliveryService::CallbackService {
 public:
  // Borrows `context`, which must outlive the service.
  explicit DeliveryServiceImpl(const exchange::ExchangeContext* context)
      : context_(context) {}

  grpc::ServerUnaryReactor* List(
      grpc::CallbackServerContext* context,
      const sild::v1::ListDeliveriesRequest* request,
      sild::v1::ListDeliveriesResponse* response) override;
  grpc::ServerUnaryReactor* Replay(
      grpc::CallbackServerContext* context,
      const sild::v1::ReplayDeliveryRequest* request,
      sild::v1::ReplayDeliveryResponse* response) override;
  grpc::ServerUnaryReactor* ListTransports(
      grpc::CallbackServerContext* context,
      const sild::v1::ListTransportsRequest* request,
      sild::v1::ListTransportsResponse* response) override;

 private:
  const exchange::ExchangeContext* context_;
};

}  // namespace sild::delivery

#endif  // SILD_GATEWAY_DELIVERY_DELIVERY_SERVICE_H_
