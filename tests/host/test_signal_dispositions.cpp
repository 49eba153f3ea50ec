// Signal dispositions are process-wide: the Loop's registry counts the
// watches of every Loop, chains to the handler that was there before,
// respects SIG_IGN and restores the previous disposition when the last
// watch in the process goes, in whatever order the Loops go.
#include "test_util.h"

#include <atomic>
#include <csignal>
#include <latch>
#include <memory>
#include <thread>

#include <pthread.h>

using namespace test;

namespace {

struct sigaction current(int signo)
{
    struct sigaction sa {};
    ::sigaction(signo, nullptr, &sa);
    return sa;
}

bool is_default(int signo)
{
    const struct sigaction sa = current(signo);
    return !(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_DFL;
}

std::atomic<int> user_sigio_calls{0};
std::atomic<int> user_sigio_fd{-2};
void user_sigio_handler(int, siginfo_t* info, void*)
{
    user_sigio_calls.fetch_add(1);
    user_sigio_fd.store(info ? info->si_code : -1);
}

/// Installs `h` for `signo` for the scope, then puts back what was there.
struct ScopedHandler {
    int signo;
    struct sigaction old {};
    ScopedHandler(int s, void (*h)(int, siginfo_t*, void*)) : signo(s)
    {
        struct sigaction sa {};
        sa.sa_sigaction = h;
        sa.sa_flags = SA_SIGINFO;
        sigemptyset(&sa.sa_mask);
        ::sigaction(signo, &sa, &old);
    }
    ScopedHandler(int s, void (*h)(int)) : signo(s)
    {
        struct sigaction sa {};
        sa.sa_handler = h;
        sigemptyset(&sa.sa_mask);
        ::sigaction(signo, &sa, &old);
    }
    ~ScopedHandler() { ::sigaction(signo, &old, nullptr); }
};

} // namespace

// Loop A (thread 1) watches first, Loop B (thread 2) second; A is destroyed
// first. Saving and restoring per Loop left B's "previous" disposition --
// the library's own handler -- installed for good.
static void test_two_loops_destroyed_out_of_order_restore_default(void**)
{
    for (int signo : {SIGIO, SIGRTMIN + 1})
        assert_true(is_default(signo));
    std::latch a_built(1), b_built(1), a_gone(1);
    std::atomic<bool> ours_while_b_watches{false};
    std::thread ta([&] {
        asyncdev::Loop loop;
        auto n = std::make_unique<asyncdev::SignalNotifier>(loop);
        a_built.count_down();
        b_built.wait();
        n.reset(); // A goes first: non-LIFO
        a_gone.count_down();
    });
    std::thread tb([&] {
        a_built.wait();
        asyncdev::Loop loop;
        auto n = std::make_unique<asyncdev::SignalNotifier>(loop);
        b_built.count_down();
        a_gone.wait();
        // Still watched by B: the library's handler must still be there.
        const struct sigaction sa = current(SIGIO);
        ours_while_b_watches = (sa.sa_flags & SA_SIGINFO) && sa.sa_sigaction != nullptr;
    });
    ta.join();
    tb.join();
    assert_true(ours_while_b_watches.load());
    for (int signo : {SIGIO, SIGRTMIN + 1})
        assert_true(is_default(signo));
}

// The same with two Loops on one thread, watches removed FIFO.
static void test_watches_of_two_loops_removed_fifo_restore_user_handler(void**)
{
    ScopedHandler user(SIGUSR2, user_sigio_handler);
    {
        asyncdev::Loop a, b;
        auto wa = a.watch_signal(SIGUSR2, [](const signalfd_siginfo&) {});
        auto wb = b.watch_signal(SIGUSR2, [](const signalfd_siginfo&) {});
        wa.reset();
        wb.reset();
    }
    const struct sigaction sa = current(SIGUSR2);
    assert_true(sa.sa_flags & SA_SIGINFO);
    assert_ptr_equal(reinterpret_cast<void*>(sa.sa_sigaction),
                     reinterpret_cast<void*>(&user_sigio_handler));
}

// A SIGIO handler installed before the notifier keeps getting the SIGIOs
// that are not the library's: here a kill() to the process. The only
// thread blocks SIGIO (the notifier's Loop), so the signal is read from
// the signalfd and the Loop calls the previous handler.
static void test_previous_sigio_handler_runs_for_process_signal(void**)
{
    ScopedHandler user(SIGIO, user_sigio_handler);
    user_sigio_calls = 0;
    {
        asyncdev::Loop loop;
        asyncdev::SignalNotifier n(loop);
        assert_int_equal(::kill(::getpid(), SIGIO), 0);
        assert_true(run_until(loop, [] { return user_sigio_calls.load() == 1; }, 2s));
        assert_int_equal(n.overflows(), 1); // the notifier saw it too (a rescan)
    }
    assert_int_equal(user_sigio_calls.load(), 1);
    const struct sigaction sa = current(SIGIO);
    assert_ptr_equal(reinterpret_cast<void*>(sa.sa_sigaction),
                     reinterpret_cast<void*>(&user_sigio_handler));
}

// A SIGIO that lands in a thread not blocking it (another library's
// F_SETOWN to that thread, a pthread_kill) runs the previous handler
// there, in signal context, and is not forwarded to the Loop.
static void test_previous_sigio_handler_runs_in_other_thread(void**)
{
    ScopedHandler user(SIGIO, user_sigio_handler);
    user_sigio_calls = 0;
    asyncdev::Loop loop;
    asyncdev::SignalNotifier n(loop);
    std::atomic<bool> done{false};
    std::thread other([&] {
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, SIGIO);
        pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
        while (!done.load())
            std::this_thread::sleep_for(1ms);
    });
    assert_int_equal(::pthread_kill(other.native_handle(), SIGIO), 0);
    const auto deadline = Clock::now() + 2s;
    while (user_sigio_calls.load() == 0 && Clock::now() < deadline)
        loop.run_once(5ms);
    loop.run_once(20ms); // a forwarded copy would be dispatched now
    done = true;
    other.join();
    assert_int_equal(user_sigio_calls.load(), 1);
    assert_int_equal(n.overflows(), 0);
}

std::atomic<int> ignored_seen{0};

// SIG_IGN before the watch: a copy landing in a thread that does not block
// the signal stays ignored (it is not forwarded to the Loop).
static void test_sig_ign_respected_in_other_threads(void**)
{
    ScopedHandler user(SIGUSR1, SIG_IGN);
    asyncdev::Loop loop;
    int seen = 0;
    auto w = loop.watch_signal(SIGUSR1, [&](const signalfd_siginfo&) { ++seen; });
    std::atomic<bool> done{false};
    std::thread other([&] {
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, SIGUSR1);
        pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
        while (!done.load())
            std::this_thread::sleep_for(1ms);
    });
    // Process-directed: only `other` does not block it, so it lands there.
    assert_int_equal(::kill(::getpid(), SIGUSR1), 0);
    std::this_thread::sleep_for(20ms);
    loop.run_once(50ms);
    done = true;
    other.join();
    assert_int_equal(seen, 0);
    // A signal directed at the loop thread (which blocks it) still arrives.
    assert_int_equal(::syscall(SYS_tgkill, ::getpid(), loop.thread_id(), SIGUSR1), 0);
    assert_true(run_until(loop, [&] { return seen == 1; }, 2s));
    w.reset();
    const struct sigaction sa = current(SIGUSR1);
    assert_true(!(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_IGN);
}

// SIGKILL cannot be caught: the error says so, and nothing is left behind.
static void test_uncatchable_signal_throws(void**)
{
    asyncdev::Loop loop;
    try {
        auto w = loop.watch_signal(SIGKILL, [](const signalfd_siginfo&) {});
        fail_msg("watch_signal(SIGKILL) did not throw");
    } catch (const std::system_error& e) {
        assert_int_equal(e.code().value(), EINVAL);
    }
    // The registry did not count it: another watch works normally.
    auto w = loop.watch_signal(SIGUSR1, [](const signalfd_siginfo&) {});
}

int main()
{
    filter_from_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_loops_destroyed_out_of_order_restore_default),
        cmocka_unit_test(test_watches_of_two_loops_removed_fifo_restore_user_handler),
        cmocka_unit_test(test_previous_sigio_handler_runs_for_process_signal),
        cmocka_unit_test(test_previous_sigio_handler_runs_in_other_thread),
        cmocka_unit_test(test_sig_ign_respected_in_other_threads),
        cmocka_unit_test(test_uncatchable_signal_throws),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
