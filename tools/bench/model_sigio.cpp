// SPDX-License-Identifier: MIT
// asyncdev-bench model "sigio": one thread, O_ASYNC + F_SETSIG RT signal
// per fd of the fed FIFO (SignalNotifier); a callback drains its fd until
// EAGAIN. The notes count the callbacks and the signals behind them.
// --same-device: the same on one fd of the producer-driven FIFO.
#include "fed_fifo.h"
#include "model.h"

#include <algorithm>
#include <cerrno>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

namespace bench {

void run_sigio(Ctx& c, Meter& m, Result& r, std::vector<std::uint64_t>& lat)
{
    run_fed(c, m, r, lat, [&m](FifoReader& rd, std::vector<asyncdev::Device>& fds) {
        std::uint64_t signals = 0, signals_in = 0, signals_out = 0, overflows = 0, callbacks = 0;
        asyncdev::Loop loop;
        asyncdev::SignalNotifier notifier(loop);
        asyncdev::Loop::Watch counter =
            loop.watch_signal(notifier.signal(), [&](const signalfd_siginfo& si) {
                ++signals;
                if (si.ssi_code == POLL_IN)
                    ++signals_in;
                else if (si.ssi_code == POLL_OUT)
                    ++signals_out;
            });
        for (auto& d : fds)
            notifier.add(d.fd(), POLLIN, [&rd, &callbacks, fd = d.fd()](short) {
                // Edge-triggered: consume until EAGAIN. A FIFO that never
                // empties (EAGAIN/op 0) needs no signal after add()'s
                // initial readiness check: callbacks show what ran.
                ++callbacks;
                while (rd.more()) {
                    const ssize_t n = rd.read_one(fd);
                    if (n == -EAGAIN)
                        break;
                }
            });
        while (rd.more()) {
            loop.run_once(std::chrono::milliseconds(1000));
            m.poll_stop();
        }
        overflows = notifier.overflows();
        for (auto& d : fds)
            notifier.remove(d.fd());
        const std::uint64_t ops = std::max<std::uint64_t>(m.measured(), 1);
        return ", " + per_op(signals, ops, "signals") + " (POLL_IN " + std::to_string(signals_in) +
               ", POLL_OUT " + std::to_string(signals_out) + "), " +
               per_op(callbacks, ops, "callbacks") +
               (overflows ? ", " + std::to_string(overflows) + " overflows" : "");
    });
}

// --same-device: O_ASYNC + F_SETSIG on one O_NONBLOCK fd of the
// producer-driven FIFO; the callback drains it until EAGAIN.
void producer_sigio(const Options& o, RecordSink& sink)
{
    asyncdev::Device d = open_node(o.fifo, O_RDONLY | O_NONBLOCK);
    std::vector<std::byte> buf(o.size);
    std::uint64_t signals = 0, callbacks = 0;
    sink.watch_counter("signals", &signals);
    sink.watch_counter("callbacks", &callbacks);
    asyncdev::Loop loop;
    asyncdev::SignalNotifier notifier(loop);
    const asyncdev::Loop::Watch counter =
        loop.watch_signal(notifier.signal(), [&](const signalfd_siginfo&) { ++signals; });
    notifier.add(d.fd(), POLLIN, [&](short) {
        ++callbacks;
        while (!sink.done()) {
            const ssize_t n = ::read(d.fd(), buf.data(), buf.size());
            if (n > 0)
                sink.deliver(buf.data(), static_cast<std::size_t>(n), tool::now_ns());
            else if (n < 0 && errno == EAGAIN)
                break;
            else if (n >= 0 || errno != EINTR)
                sink.fail(n < 0 ? errno : EIO);
        }
    });
    sink.begin();
    while (!sink.done()) {
        loop.run_once(std::chrono::milliseconds(1000));
        sink.poll_stop();
    }
    if (const std::uint64_t overflows = notifier.overflows())
        sink.add_note(std::to_string(overflows) + " overflows");
    notifier.remove(d.fd());
}

} // namespace bench
