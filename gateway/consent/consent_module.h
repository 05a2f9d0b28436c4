// The consent capability as a GatewayModule (gateway/rpc/module.h):
// schema version 2 ("consents"), the ConsentService, and the components other
// modules decide with. Registered in gateway/server/modules.cc before the
// exchange.
//
// Init sets components.consent_reader (a StoreConsentReader) and
// components.decisions (a DecisionEngine over it, for decisions outside a
// write), and components.decide_in_txn / record_disclosure for the exchange:
// decide_in_txn(txn, request) is
// decisions->Decide(request, TxnConsentReader(txn, registry)), reading
// consents through the write transaction (store_consent_reader.h), and
// record_disclosure calls ConsentRegistry::RecordDisclosure. A module that
// needs more of the registry (PendingWithdrawalNotices) builds its own
// ConsentRegistry(components.store, components.audit_log): cheap, stateless.
#ifndef SILD_GATEWAY_CONSENT_CONSENT_MODULE_H_
#define SILD_GATEWAY_CONSENT_CONSENT_MODULE_H_

#include <memory>

#include "gateway/rpc/module.h"

namespace sild {

std::unique_ptr<GatewayModule> MakeConsentModule();

}  // namespace sild

#endif  // SILD_GATEWAY_CONSENT_CONSENT_MODULE_H_
