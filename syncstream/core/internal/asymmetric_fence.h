// Asymmetric fences: a full memory barrier split between a frequent side
// (LightFence: a compiler barrier) and a rare side (HeavyFence: the
// membarrier(2) system call, which makes every running thread of the process
// execute a full barrier). A store then a LightFence then a load on one side,
// and a store then a HeavyFence then a load on the other, behave as if both
// used std::atomic_thread_fence(seq_cst): at least one side sees the other's
// store. Where membarrier's private expedited command is not available both
// sides fall back to seq_cst fences. Not a public API.
#ifndef SYNCSTREAM_CORE_INTERNAL_ASYMMETRIC_FENCE_H_
#define SYNCSTREAM_CORE_INTERNAL_ASYMMETRIC_FENCE_H_

#include <atomic>

namespace syncstream {
namespace internal {

// Whether HeavyFence uses membarrier (decided, and registered, once).
bool HeavyFenceUsesMembarrier();

// LightFence() for a caller that asked HeavyFenceUsesMembarrier() once and
// kept the answer (the question is a call, the fence a compiler barrier).
inline void LightFence(bool heavy_fence_uses_membarrier) {
  if (heavy_fence_uses_membarrier) {
    std::atomic_signal_fence(std::memory_order_seq_cst);
  } else {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
}

inline void LightFence() { LightFence(HeavyFenceUsesMembarrier()); }

void HeavyFence();

}  // namespace internal
}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_INTERNAL_ASYMMETRIC_FENCE_H_
