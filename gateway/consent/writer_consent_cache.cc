#include "gateway/consent/writer_consent_cache.h"

namespace sild {

std::optional<std::vector<sild::v1::Consent>> WriterConsentCache::Find(
    absl::string_view personal_code) {
  auto it = entries_.find(personal_code);
  if (it == entries_.end()) {
    ++misses_;
    return std::nullopt;
  }
  ++hits_;
  return it->second;
}

void WriterConsentCache::Put(absl::string_view personal_code,
                             std::vector<sild::v1::Consent> consents) {
  if (capacity_ == 0) return;
  auto [it, inserted] = entries_.insert_or_assign(std::string(personal_code),
                                                  std::move(consents));
  if (!inserted) return;
  order_.push_back(it->first);
  while (entries_.size() > capacity_) {
    entries_.erase(order_.front());
    order_.pop_front();
  }
}

void WriterConsentCache::Clear() {
  entries_.clear();
  order_.clear();
}

}  // namespace sild
