// fork(): a Loop and what is built on it are unusable in the child, which
// is told so, and whose clean-up must not touch what it shares with the
// parent (the epoll instance, the fds' file status flags and owner).
#include "test_util.h"

#include <cstring>
#include <stdexcept>

#include <poll.h>
#include <sys/epoll.h>
#include <sys/wait.h>

using namespace test;

namespace {

// Bits of the child's exit status, one per thing that went wrong.
enum : int {
    run_once_did_not_throw = 1,
    message_does_not_name_fork = 2,
    post_did_not_throw = 4,
    watch_did_not_throw = 8,
};

int wait_child(pid_t pid)
{
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid)
        fail_msg("waitpid: %s", std::strerror(errno));
    if (!WIFEXITED(status))
        fail_msg("child did not exit normally (status %#x)", status);
    return WEXITSTATUS(status);
}

} // namespace

// In the child every entry point throws std::logic_error naming fork().
static void test_use_in_child_throws_logic_error(void**)
{
    asyncdev::Loop loop;
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::alarm(10);
        int code = 0;
        try {
            loop.run_once(std::chrono::milliseconds(0));
            code |= run_once_did_not_throw;
        } catch (const std::logic_error& e) {
            if (!std::strstr(e.what(), "fork()") || !std::strstr(e.what(), "Loop::run_once"))
                code |= message_does_not_name_fork;
        }
        try {
            loop.post([] {});
            code |= post_did_not_throw;
        } catch (const std::logic_error&) {
        }
        try {
            auto w = loop.watch_fd(0, EPOLLIN, [](std::uint32_t) {});
            code |= watch_did_not_throw;
        } catch (const std::logic_error&) {
        }
        ::_exit(code);
    }
    assert_true(pid > 0);
    assert_int_equal(wait_child(pid), 0);
    loop.post([] {});
    assert_int_equal(loop.run_once(std::chrono::milliseconds(0)), 1); // the parent's Loop is fine
}

// A Loop the child builds for itself is its own: it belongs to the child's
// thread (the library caches thread ids; the forking thread's cache must
// not carry the parent's into the child), and works there.
static void test_new_loop_in_child_has_child_thread(void**)
{
    asyncdev::Loop loop; // fills the parent thread's cache
    assert_int_equal(loop.thread_id(), ::gettid());
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::alarm(10);
        asyncdev::Loop mine;
        int code = 0;
        if (mine.thread_id() != ::gettid())
            code |= 1;
        if (!mine.in_loop_thread())
            code |= 2;
        mine.post([] {});
        if (mine.run_once(std::chrono::milliseconds(0)) != 1)
            code |= 4;
        ::_exit(code);
    }
    assert_true(pid > 0);
    assert_int_equal(wait_child(pid), 0);
}

// The child destroys its copy of a watch (and of the Loop): the epoll
// instance is shared, so an EPOLL_CTL_DEL there would silence the
// parent's watch.
static void test_destroying_watch_in_child_keeps_parent_watch(void**)
{
    auto loop = std::make_unique<asyncdev::Loop>();
    Pair p = make_pipe(O_NONBLOCK | O_CLOEXEC);
    int calls = 0;
    auto w = loop->watch_fd(p.a.get(), EPOLLIN, [&](std::uint32_t) {
        ++calls;
        char c;
        while (::read(p.a.get(), &c, 1) == 1) {
        }
    });
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::alarm(10);
        w.reset();
        loop.reset();
        ::_exit(0);
    }
    assert_true(pid > 0);
    assert_int_equal(wait_child(pid), 0);
    assert_int_equal(::write(p.b.get(), "x", 1), 1);
    assert_true(run_until(*loop, [&] { return calls == 1; }, 2s));
}

// The child destroys its copy of a SignalNotifier: O_ASYNC, the owner and
// F_SETSIG live in the open file description shared with the parent, so
// restoring them there would stop the parent's notifications.
static void test_destroying_notifier_in_child_keeps_parent_fd_flags(void**)
{
    asyncdev::Loop loop;
    Pair p = make_pipe(O_NONBLOCK | O_CLOEXEC);
    auto n = std::make_unique<asyncdev::SignalNotifier>(loop);
    int calls = 0;
    n->add(p.a.get(), POLLIN, [&](short) {
        ++calls;
        char c;
        while (::read(p.a.get(), &c, 1) == 1) {
        }
    });
    loop.run_once(std::chrono::milliseconds(0)); // the initial rescan
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::alarm(10);
        n.reset();
        ::_exit(0);
    }
    assert_true(pid > 0);
    assert_int_equal(wait_child(pid), 0);
    assert_true(::fcntl(p.a.get(), F_GETFL) & O_ASYNC);
    assert_int_equal(::fcntl(p.a.get(), F_GETSIG), n->signal());
    assert_int_equal(::write(p.b.get(), "x", 1), 1);
    assert_true(run_until(loop, [&] { return calls == 1; }, 2s));
}

// The child's backends are dropped without cancelling or waiting: the
// parent's requests complete normally.
static void test_destroying_backend_in_child_leaves_parent_requests(void**)
{
    asyncdev::Loop loop;
    Pair p = make_pipe(O_CLOEXEC); // glibc's read would not wait on O_NONBLOCK
    auto aio = std::make_unique<asyncdev::PosixAio>(loop);
    std::byte buf[4];
    ssize_t got = -1000;
    aio->read(p.a.get(), buf, 0, [&](ssize_t r) { got = r; });
    aio->submit();
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::alarm(10); // a hang ends the child with SIGALRM: a failure, not a timeout
        aio.reset(); // would wait for ever for glibc helper threads that are not here
        ::_exit(0);
    }
    assert_true(pid > 0);
    assert_int_equal(wait_child(pid), 0);
    assert_int_equal(::write(p.b.get(), "abcd", 4), 4);
    assert_true(run_until(loop, [&] { return got != -1000; }, 5s));
    assert_int_equal(got, 4);
}

// The same for a Uring: the child's destruction must not cancel the parent's
// requests through the ring they share (nor reap the parent's completions).
static void test_destroying_uring_in_child_leaves_parent_requests(void**)
{
    asyncdev::Loop loop;
    Pair p = make_pipe(O_CLOEXEC);
    auto ring = std::make_unique<asyncdev::Uring>(loop, 4);
    std::byte buf[4];
    ssize_t got = -1000;
    ring->read(p.a.get(), buf, 0, [&](ssize_t r) { got = r; });
    ring->submit();
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::alarm(10);
        ring.reset();
        ::_exit(0);
    }
    assert_true(pid > 0);
    assert_int_equal(wait_child(pid), 0);
    assert_int_equal(::write(p.b.get(), "abcd", 4), 4);
    assert_true(run_until(loop, [&] { return got != -1000; }, 5s));
    assert_int_equal(got, 4);
}

int main()
{
    filter_from_env();
    tsan_one_aio_helper_thread();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_use_in_child_throws_logic_error),
        cmocka_unit_test(test_new_loop_in_child_has_child_thread),
        cmocka_unit_test(test_destroying_watch_in_child_keeps_parent_watch),
        cmocka_unit_test(test_destroying_notifier_in_child_keeps_parent_fd_flags),
        cmocka_unit_test(test_destroying_backend_in_child_leaves_parent_requests),
        cmocka_unit_test(test_destroying_uring_in_child_leaves_parent_requests),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
