// SPDX-License-Identifier: MIT
// asyncdev-bench: the list of models.
#include "model.h"

namespace bench {

const std::vector<Model>& models()
{
    static const std::vector<Model> all = {
        {"blocking", false, "a thread per stream, blocking pread(2) on /dev/asyncmem", run_blocking,
         producer_blocking, nullptr},
        {"nonblock", true,
         "one thread busy-polling O_NONBLOCK read(2) over the stream fds of /dev/asyncdev",
         run_nonblock, producer_nonblock,
         "O_NONBLOCK changes nothing on memory: a read never waits for data, it sleeps "
         "the service time as the blocking one does"},
        {"epoll", true,
         "one thread, level-triggered epoll (Loop::watch_fd) over the stream fds of "
         "/dev/asyncdev, one read per event",
         run_epoll, producer_epoll,
         "the node has no poll (epoll_ctl refuses it with EPERM): memory is never "
         "\"not ready\""},
        {"sigio", true,
         "one thread, O_ASYNC + F_SETSIG RT signal per fd (SignalNotifier), drain the "
         "signalled fd until EAGAIN",
         run_sigio, producer_sigio,
         "the node has no fasync: O_ASYNC is accepted but never raises a signal"},
        {"posix-aio", false,
         "aio_read/lio_listio (glibc thread pool), completion by RT signal (PosixAio)",
         run_posix_aio, producer_posix_aio, nullptr},
        {"libaio", false, "io_submit, completion through eventfd (AioContext)", run_libaio,
         producer_libaio, nullptr},
        {"uring", false, "io_uring, completion through eventfd (Uring)", run_uring,
         producer_uring, nullptr},
    };
    return all;
}

const Model* find_model(const std::string& name)
{
    for (const Model& m : models())
        if (name == m.name)
            return &m;
    return nullptr;
}

std::vector<std::string> model_names()
{
    std::vector<std::string> v;
    for (const Model& m : models())
        v.emplace_back(m.name);
    return v;
}

} // namespace bench
