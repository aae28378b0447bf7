// The registry of live coroutine frames, for debuggers (tools/gdb/tandem.py
// walks it: `info tandem`) and for the stack overflow report.
//
// Creating and destroying a coroutine takes no process-wide lock and, on
// the thread that created it, no atomic read-modify-write: each thread
// lists the frames it creates in a registry of its own, an array of slots
// (in chunks that never move) which only that thread fills. Any thread
// empties a slot when the frame goes (a coroutine may end on another
// thread than the one that made it) with a plain atomic store; the owner
// finds slots emptied elsewhere by counting them. A registry outlives its
// thread (its frames may live on elsewhere) and is handed to the next new
// thread. Readers (the debugger, the SIGSEGV handler) walk every registry
// without locks: they run while the process is stopped or dying.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "tandem/detail/frame.hpp"

namespace tandem::detail {

inline constexpr std::size_t registry_chunk_slots = 1022;  // 8 KiB chunks

// The layout of these two, up to `slots`, is what tools/gdb/tandem.py reads
// when the library has no debug info: keep the first fields first.
struct registry_chunk {
  registry_chunk* next = nullptr;                // the older chunk
  std::size_t used = 0;                          // slots[0, used) have been handed out
  frame_base* slots[registry_chunk_slots] = {};  // null: free
};

struct frame_registry {
  frame_registry* next = nullptr;    // every registry ever made, newest first
  registry_chunk* chunks = nullptr;  // newest first
  // The owner's alone from here on.
  std::size_t capacity = 0;                // slots in all chunks
  std::size_t owner_emptied = 0;           // slots of full chunks emptied by the owner...
  std::size_t refilled = 0;                // ...and taken again
  registry_chunk* cursor_chunk = nullptr;  // where the search for an empty slot resumes
  std::size_t cursor = 0;
  std::uint64_t next_id = 0;  // this thread's block of frame ids
  std::uint64_t id_limit = 0;
  // Slots emptied by other threads (the only field they write, but slots).
  std::atomic<std::size_t> remote_emptied{0};
  bool orphaned = false;  // its thread has exited; the next new thread adopts it
};

// The newest registry; the chain follows frame_registry::next.
extern frame_registry* frame_registries;

// Lists f in this thread's registry (and gives it its id); unlists it.
void list_frame(frame_base* f);
void unlist_frame(frame_base* f) noexcept;

// Calls fn(const frame_base*) for every listed frame, reading without
// locks (see above); stops early when fn returns true, and returns that.
template <class Fn>
bool any_live_frame(Fn fn) noexcept {
  for (const frame_registry* r = frame_registries; r != nullptr; r = r->next) {
    for (const registry_chunk* c = r->chunks; c != nullptr; c = c->next) {
      for (std::size_t i = 0; i < c->used && i < registry_chunk_slots; ++i) {
        const frame_base* f =
            std::atomic_ref(const_cast<frame_base*&>(c->slots[i])).load(std::memory_order_relaxed);
        if (f != nullptr && fn(f)) return true;
      }
    }
  }
  return false;
}

}  // namespace tandem::detail
