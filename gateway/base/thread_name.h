// Names the calling thread so that `top -H`, `ps -L`, perf and gdb show what
// each of the gateway's threads does (the writer, the commit flusher, the
// delivery workers, ...) instead of the process name on all of them.
#ifndef SILD_GATEWAY_BASE_THREAD_NAME_H_
#define SILD_GATEWAY_BASE_THREAD_NAME_H_

#include <pthread.h>

#include <string>

namespace sild {

// Linux keeps 15 characters of a thread name; longer names are cut there.
inline void NameThisThread(const std::string& name) {
  (void)pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace sild

#endif  // SILD_GATEWAY_BASE_THREAD_NAME_H_
