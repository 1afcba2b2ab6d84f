#pragma once
// Where the request path hands a finished request's spend event (proxy/settle.cpp). The one
// implementation is spend::SpendWriter (journal, queue, batched database writes; docs/spend.md);
// without a database there is no sink and spend is counted in metrics only.
//
// Thread safety: record() may be called from any thread concurrently.
#include "tollgate/spend/spend_event.hpp"

namespace tollgate::spend {

class SpendSink {
 public:
  virtual ~SpendSink() = default;

  /// Takes one finished request's spend event. Never blocks on the database: when it returns the
  /// event is journaled (when a journal is configured) and queued for the next batch write.
  virtual void record(SpendEvent event) = 0;
};

}  // namespace tollgate::spend
