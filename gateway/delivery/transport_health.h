// Health of the connector transports: every agency's egress endpoint and
// ingress transport (TransportProbe, gateway/rpc/module.h) is probed on a
// timer. A change is logged (a lost connection as a warning naming the
// agency, transport and error; the recovery as info) and published on the
// standard gRPC health service as
//   sild.transport.egress.<registry code>   sild.transport.ingress.<code>
// (SERVING / NOT_SERVING), so a load balancer or `grpc_health_probe` sees a
// broker outage per agency. Operators read the same snapshot through
// DeliveryService.ListTransports (`sildctl transports`).
//
// A transport's own health() is cheap (it reports the state its connection
// callbacks recorded); the monitor never connects anything itself.
//
// Thread-safe: Snapshot() from any thread; Start/Stop from the module's.
#ifndef SILD_GATEWAY_DELIVERY_TRANSPORT_HEALTH_H_
#define SILD_GATEWAY_DELIVERY_TRANSPORT_HEALTH_H_

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/rpc/module.h"
#include "sild/v1/delivery_service.pb.h"

namespace sild::delivery {

// The name a probe is published under on the gRPC health service.
std::string HealthServiceName(const TransportProbe& probe);

class TransportHealthMonitor {
 public:
  // Sets a gRPC health service name's status (empty: not published).
  using Publisher = std::function<void(const std::string&, bool serving)>;

  explicit TransportHealthMonitor(std::vector<TransportProbe> probes);
  ~TransportHealthMonitor();

  // Probes once at once, then every `interval` on its own thread.
  void Start(Publisher publisher, absl::Duration interval);
  void Stop();
  // Probes every transport now (also what the timer does).
  void ProbeNow();

  // The latest state of every transport, in config order.
  std::vector<sild::v1::TransportStatus> Snapshot() const;
  bool empty() const { return probes_.empty(); }

 private:
  std::vector<TransportProbe> probes_;
  Publisher publisher_;
  std::thread thread_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<sild::v1::TransportStatus> states_ ABSL_GUARDED_BY(mu_);
  bool probed_once_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace sild::delivery

#endif  // SILD_GATEWAY_DELIVERY_TRANSPORT_HEALTH_H_
