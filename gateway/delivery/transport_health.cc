#include "gateway/delivery/transport_health.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gateway/base/log.h"
#include "gateway/base/thread_name.h"

namespace sild::delivery {

std::string HealthServiceName(const TransportProbe& probe) {
  return absl::StrCat("sild.transport.",
                      probe.direction == sild::v1::TRANSPORT_DIRECTION_INGRESS
                          ? "ingress"
                          : "egress",
                      ".", probe.registry_code);
}

TransportHealthMonitor::TransportHealthMonitor(
    std::vector<TransportProbe> probes)
    : probes_(std::move(probes)) {
  absl::MutexLock lock(&mu_);
  for (const TransportProbe& probe : probes_) {
    sild::v1::TransportStatus state;
    state.set_registry_code(probe.registry_code);
    state.set_direction(probe.direction);
    state.set_transport(probe.transport);
    state.set_healthy(false);
    state.set_detail("not probed yet");
    states_.push_back(std::move(state));
  }
}

TransportHealthMonitor::~TransportHealthMonitor() { Stop(); }

void TransportHealthMonitor::Start(Publisher publisher,
                                   absl::Duration interval) {
  publisher_ = std::move(publisher);
  ProbeNow();
  if (probes_.empty()) return;
  thread_ = std::thread([this, interval] {
    NameThisThread("sild-transp-hc");
    absl::MutexLock lock(&mu_);
    while (true) {
      auto stopping = [this]()
                          ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_; };
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping), interval)) return;
      mu_.Unlock();
      ProbeNow();
      mu_.Lock();
    }
  });
}

void TransportHealthMonitor::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void TransportHealthMonitor::ProbeNow() {
  for (size_t i = 0; i < probes_.size(); ++i) {
    const TransportProbe& probe = probes_[i];
    absl::Status health = probe.probe();
    bool changed = false;
    bool first = false;
    {
      absl::MutexLock lock(&mu_);
      sild::v1::TransportStatus& state = states_[i];
      first = !probed_once_;
      changed = first || state.healthy() != health.ok();
      state.set_healthy(health.ok());
      state.set_detail(std::string(health.message()));
      state.set_checked_unix_ms(absl::ToUnixMillis(absl::Now()));
      if (changed) state.set_since_unix_ms(state.checked_unix_ms());
    }
    if (!changed) continue;
    const std::string direction =
        probe.direction == sild::v1::TRANSPORT_DIRECTION_INGRESS ? "ingress"
                                                                 : "egress";
    if (!health.ok()) {
      LogWarning("transport unavailable",
                 {{"agency", probe.registry_code},
                  {"direction", direction},
                  {"transport", probe.transport},
                  {"error", std::string(health.message())}});
    } else if (!first) {
      LogInfo("transport recovered", {{"agency", probe.registry_code},
                                      {"direction", direction},
                                      {"transport", probe.transport}});
    }
    if (publisher_) publisher_(HealthServiceName(probe), health.ok());
  }
  absl::MutexLock lock(&mu_);
  probed_once_ = true;
}

std::vector<sild::v1::TransportStatus> TransportHealthMonitor::Snapshot()
    const {
  absl::MutexLock lock(&mu_);
  return states_;
}

}  // namespace sild::delivery
