// SPDX-License-Identifier: MIT
// asyncdev-bench: the nodes' configuration for a run, and its restore.
#pragma once

#include "bench.h"

#include <optional>
#include <system_error>

namespace bench {

/// Runs a control call on `path`; on failure exits naming the node and call.
template <class F>
auto ctl(const char* path, F&& f, const char* what) -> decltype(f())
{
    try {
        return f();
    } catch (const std::system_error& e) {
        fail("%s: %s: %s%s", path, what, e.what(),
             e.code().value() == EPERM    ? " (needs CAP_SYS_ADMIN)"
             : e.code().value() == ENOTTY ? " (not an asyncdev node?)"
                                          : "");
    }
}

/// Sets both nodes for the run; the destructor restores what was there.
class DeviceSetup {
public:
    DeviceSetup(const Options& o, std::uint64_t& fifo_capacity, bool need_fifo)
        : mem_(open_node(o.mem, O_RDWR))
    {
        saved_mem_ = ctl(o.mem, [&] { return mem_.config(); }, "get config");
        asyncdev::Fault f = ctl(o.mem, [&] { return mem_.fault(); }, "get fault");
        if (f.mode != asyncdev::FaultMode::off)
            warn("warning: fault injection is on for %s: expect I/O errors", o.mem);
        if (need_fifo) {
            fifo_.emplace(open_node(o.fifo, O_RDWR | O_NONBLOCK));
            saved_fifo_ = ctl(o.fifo, [&] { return fifo_->config(); }, "get config");
            fifo_capacity = ctl(o.fifo, [&] { return fifo_->info(); }, "get info").capacity;
            f = ctl(o.fifo, [&] { return fifo_->fault(); }, "get fault");
            if (f.mode != asyncdev::FaultMode::off)
                warn("warning: fault injection is on for %s: expect I/O errors", o.fifo);
        }
        mem_path_ = o.mem;
        fifo_path_ = o.fifo;
    }
    ~DeviceSetup()
    {
        std::error_code ec;
        mem_.set_config(saved_mem_, ec);
        if (ec)
            warn("%s: restore configuration: %s", mem_path_, ec.message().c_str());
        if (fifo_) {
            fifo_->set_config(saved_fifo_, ec);
            if (ec)
                warn("%s: restore configuration: %s", fifo_path_, ec.message().c_str());
            fifo_->flush(ec);
        }
    }

    void set_mem(std::uint64_t lat, std::uint64_t jit, std::uint64_t ch)
    {
        asyncdev::Config c;
        c.latency = std::chrono::nanoseconds(lat);
        c.jitter = std::chrono::nanoseconds(jit);
        c.channels = static_cast<std::uint32_t>(ch);
        ctl(mem_path_, [&] { mem_.set_config(c); }, "set config");
    }
    void set_fifo(std::uint64_t lat, std::uint64_t jit, std::uint64_t ch)
    {
        if (!fifo_)
            return;
        asyncdev::Config c; // produce_hz 0: only the feeder writes
        c.latency = std::chrono::nanoseconds(lat);
        c.jitter = std::chrono::nanoseconds(jit);
        c.channels = static_cast<std::uint32_t>(ch);
        ctl(fifo_path_, [&] { fifo_->set_config(c); }, "set config");
    }
    // After set_mem/set_fifo: the --dist distribution on both nodes (the
    // destructor's v1 restore replaces it again).
    void set_dist(const asyncdev::Latency& l)
    {
        ctl(mem_path_, [&] { mem_.set_latency(asyncdev::Direction::both, l); }, "set latency");
        if (fifo_)
            ctl(fifo_path_, [&] { fifo_->set_latency(asyncdev::Direction::both, l); },
                "set latency");
    }
    asyncdev::Device& mem() { return mem_; }
    /// The FIFO (only if the constructor's need_fifo was true).
    asyncdev::Device& fifo() { return *fifo_; }

private:
    asyncdev::Device mem_;
    std::optional<asyncdev::Device> fifo_;
    asyncdev::Config saved_mem_, saved_fifo_;
    const char* mem_path_ = nullptr;
    const char* fifo_path_ = nullptr;
};

/// Writes the whole pattern to the memory node at offset 0.
void write_image(asyncdev::Device& mem, const Image& im, const char* path);

} // namespace bench
