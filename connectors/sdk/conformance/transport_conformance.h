// Transport conformance kit: the GoogleTest suite every egress/ingress
// transport pair must pass (file, NATS, AMQP, Kafka...). A transport's test
// gives a factory for a connected pair and instantiates the suite:
//
//   TransportConformanceParams FileParams() {
//     TransportConformanceParams params;
//     params.name = "file";
//     params.make_pair = []() -> absl::StatusOr<TransportPair> {
//       std::string dir = MakeTempDir();
//       TransportPair pair;
//       pair.egress = ...;   // delivers into dir
//       pair.ingress = ...;  // watches dir
//       pair.dead_letters = [dir] { return ReadRejected(dir); };
//       return pair;
//     };
//     return params;
//   }
//   SILD_TRANSPORT_CONFORMANCE(File, FileParams());
//
// Link the test with `sild_codec_conformance`. Each test makes a fresh pair.
// Tests (TransportConformance/<Name>.<Check>/0):
//  DeliveredMessagesArriveWithTheirIds  every Deliver()ed message reaches the
//      ingress handler at least once (duplicates allowed) with the same bytes
//      and InboundMessage.message_id == OutboundMessage.message_id; health()
//      is OK on both sides.
//  AcknowledgedOnlyAfterDoneOk  a handler that reports UNAVAILABLE the first
//      time gets the same message again; one that calls done(OK) later, from
//      another thread, is not redelivered a second time within the settle
//      time (at-least-once, but the acknowledgement counts).
//  PermanentRefusalReachesDeadLetters  done(INVALID_ARGUMENT with a reason)
//      puts the message on the dead-letter side, with its id and reason, and
//      it is not handed to the handler again.
//  StopWaitsForInFlightHandlers  Stop() returns only after a running handler
//      has called done.
//
// Thread safety: the kit calls handlers' done from other threads, as real
// gateways do. Waits are bounded by params.timeout; nothing sleeps longer.
#ifndef SILD_CONNECTORS_SDK_CONFORMANCE_TRANSPORT_CONFORMANCE_H_
#define SILD_CONNECTORS_SDK_CONFORMANCE_TRANSPORT_CONFORMANCE_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "connectors/sdk/transport.h"
#include "gtest/gtest.h"

namespace sild::connectors::conformance {

// A message the ingress side refused permanently, as its dead-letter
// destination records it.
struct DeadLetter {
  std::string message_id;
  std::string bytes;
  // Holds at least the refusal's reason code.
  std::string reason;
};

// An egress transport and an ingress transport connected to each other: what
// egress delivers, ingress receives.
struct TransportPair {
  std::unique_ptr<EgressTransport> egress;
  std::unique_ptr<IngressTransport> ingress;
  // Reads the dead-letter side (rejected folder, DLQ...).
  std::function<std::vector<DeadLetter>()> dead_letters;
  // Called after the test (after ingress->Stop()); may be empty.
  std::function<void()> cleanup;
};

struct TransportConformanceParams {
  std::string name;
  std::function<absl::StatusOr<TransportPair>()> make_pair;
  // Longest wait for a delivery to arrive.
  absl::Duration timeout = absl::Seconds(10);
  // How long "not redelivered" is watched for.
  absl::Duration settle = absl::Seconds(1);
};

void PrintTo(const TransportConformanceParams& params, std::ostream* os);

class TransportConformanceTest
    : public ::testing::TestWithParam<TransportConformanceParams> {};

}  // namespace sild::connectors::conformance

// Use it at namespace scope outside sild::connectors::conformance.
#define SILD_TRANSPORT_CONFORMANCE(Name, ...)                    \
  using TransportConformanceTest =                               \
      ::sild::connectors::conformance::TransportConformanceTest; \
  INSTANTIATE_TEST_SUITE_P(Name, TransportConformanceTest,       \
                           ::testing::Values(__VA_ARGS__))

#endif  // SILD_CONNECTORS_SDK_CONFORMANCE_TRANSPORT_CONFORMANCE_H_
