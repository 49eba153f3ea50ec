// SPDX-License-Identifier: MIT
// P7: libasyncdev's backends doing the same job as fio's raw engines
// (tests/bench/fio/randread.fio): BS-byte reads at random BS-aligned
// offsets of the first SIZE bytes of DEV, QD requests always in flight.
//
//   bench_lib aio|uring|uring-fixed DEV QD SECONDS [RAMP_SECONDS] [BS] [SIZE]
//
// uring-fixed (P7c) is uring with DEV registered (Uring::FixedFile, the
// kernel skips the fd lookup) and the QD slots' buffers registered as one
// buffer (Uring::FixedBuffer: READ_FIXED, no page pinning per request),
// the other way fio's io_uring engine runs with registerfiles and
// fixedbufs (tests/bench/fio/randread-fixed.fio).
//
// Every completion callback prepares the next read of its slot; the main
// loop is run_once() followed by one submit() for everything prepared in
// that batch (the batching fio does with iodepth_batch=1 is the same in
// spirit: each completion is replaced). Prints
// "ios=N secs=S iops=R" for the measured window (after the ramp).
#include <asyncdev/aio_context.h>
#include <asyncdev/loop.h>
#include <asyncdev/uring.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace {

using Clock = std::chrono::steady_clock;

struct Bench {
    asyncdev::IoEngine* eng = nullptr;
    asyncdev::Uring* fixed = nullptr; // uring-fixed: slot 0, buffer 0
    int fd = -1;
    std::size_t bs = 4096;
    std::uint64_t blocks = 0;
    std::vector<std::byte> mem;
    std::uint64_t rng = 0x9e3779b97f4a7c15ull;
    std::uint64_t done = 0;
    std::uint64_t errors = 0;
    bool stopping = false;

    std::uint64_t next_offset()
    {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return (rng % blocks) * bs;
    }

    void issue(std::size_t slot)
    {
        std::span<std::byte> buf(mem.data() + slot * bs, bs);
        auto cb = [this, slot](ssize_t res) {
            if (res != static_cast<ssize_t>(bs))
                ++errors;
            ++done;
            if (!stopping)
                issue(slot);
        };
        if (fixed)
            fixed->read(asyncdev::Uring::FixedFile{0}, asyncdev::Uring::FixedBuffer{0}, buf,
                        next_offset(), std::move(cb));
        else
            eng->read(fd, buf, next_offset(), std::move(cb));
    }
};

} // namespace

int main(int argc, char** argv)
{
    if (argc < 5) {
        std::fprintf(stderr,
                     "usage: bench_lib aio|uring|uring-fixed DEV QD SECONDS [RAMP] [BS] [SIZE]\n");
        return 2;
    }
    const std::string kind = argv[1];
    const char* dev = argv[2];
    const unsigned qd = std::strtoul(argv[3], nullptr, 0);
    const double secs = std::atof(argv[4]);
    const double ramp = argc > 5 ? std::atof(argv[5]) : 1.0;
    Bench b;
    b.bs = argc > 6 ? std::strtoul(argv[6], nullptr, 0) : 4096;
    const std::uint64_t size = argc > 7 ? std::strtoull(argv[7], nullptr, 0) : 16u << 20;
    b.blocks = size / b.bs;
    if (!qd || !b.blocks || (kind != "aio" && kind != "uring" && kind != "uring-fixed")) {
        std::fprintf(stderr, "bench_lib: bad arguments\n");
        return 2;
    }
    try {
        asyncdev::Loop loop;
        b.fd = ::open(dev, O_RDWR | O_CLOEXEC);
        if (b.fd < 0) {
            std::perror(dev);
            return 2;
        }
        std::unique_ptr<asyncdev::IoEngine> eng;
        if (kind == "aio")
            eng = std::make_unique<asyncdev::AioContext>(loop, qd);
        else
            eng = std::make_unique<asyncdev::Uring>(loop, qd);
        b.eng = eng.get();
        b.mem.resize(static_cast<std::size_t>(qd) * b.bs);
        if (kind == "uring-fixed") {
            b.fixed = static_cast<asyncdev::Uring*>(eng.get());
            b.fixed->register_files(std::span(&b.fd, 1));
            const iovec all{b.mem.data(), b.mem.size()};
            b.fixed->register_buffers(std::span(&all, 1));
        }

        for (unsigned s = 0; s < qd; ++s)
            b.issue(s);
        eng->submit();

        auto t0 = Clock::now();
        const auto ramp_end = t0 + std::chrono::duration<double>(ramp);
        bool measuring = ramp <= 0;
        std::uint64_t base = 0;
        auto end = t0 + std::chrono::duration<double>(ramp + secs);
        auto now = t0;
        while (now < end) {
            loop.run_once();
            eng->submit();
            now = Clock::now();
            if (!measuring && now >= ramp_end) {
                measuring = true;
                base = b.done;
                t0 = now;
            }
        }
        const std::uint64_t ios = b.done - base;
        const double dt = std::chrono::duration<double>(now - t0).count();
        b.stopping = true;
        while (eng->in_flight() + eng->queued())
            loop.run_once();
        eng.reset();
        ::close(b.fd);
        std::printf("ios=%llu secs=%.3f iops=%.1f errors=%llu\n",
                    static_cast<unsigned long long>(ios), dt, ios / dt,
                    static_cast<unsigned long long>(b.errors));
        return b.errors ? 1 : 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_lib: %s\n", e.what());
        return 2;
    }
}
