"""PyTorch peer of tools/bench_cnn.c: the Haiku CNN training step in PyTorch eager.

conv(4x4, 1->4, SAME) -> relu -> conv(4x4, 4->4, SAME) -> relu -> max_pool(2x2) ->
flatten -> linear(784 -> 10), softmax cross-entropy summed over the batch, SGD with
in-place updates (torch.optim.SGD, gradients set to None between steps). NCHW, the layout
PyTorch's CPU convolutions (oneDNN) are fastest in. Run with OMP_WAIT_POLICY=PASSIVE
(bench_cnn sets it).

Usage: bench_cnn_torch.py THREADS. Reads commands on stdin, one per line:
  "BATCH REPS"  time REPS steps at batch BATCH (after warm-up on first use of the batch)
                and print each step's wall and process CPU time in ms as "wall,cpu" on
                one line, space-separated;
  "quit"        exit.
Prints "ready" once torch is imported and the thread count set.
"""
import sys
import warnings
import time

import torch
import torch.nn.functional as F


class Net(torch.nn.Module):
    """The notebook's CNN with 'same' padding (PyTorch pads 4x4 as 1 before, 2 after,
    like TensorFlow/Haiku)."""

    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(1, 4, 4, padding="same")
        self.c2 = torch.nn.Conv2d(4, 4, 4, padding="same")
        self.fc = torch.nn.Linear(784, 10)

    def forward(self, x):
        h = F.relu(self.c1(x))
        h = F.relu(self.c2(h))
        h = F.max_pool2d(h, 2, 2)
        return self.fc(torch.flatten(h, 1))


def make(batch):
    """Model, optimizer and one fixed batch."""
    torch.manual_seed(0)
    net = Net()
    opt = torch.optim.SGD(net.parameters(), lr=1e-3)
    x = torch.rand(batch, 1, 28, 28)
    y = torch.randint(0, 10, (batch,))
    return net, opt, x, y


def step(net, opt, x, y):
    """One SGD step, in place."""
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(net(x), y, reduction="sum")
    loss.backward()
    opt.step()
    return loss


def main():
    warnings.filterwarnings("ignore")
    torch.set_num_threads(int(sys.argv[1]))
    print("ready", flush=True)
    cache = {}
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] == "quit":
            break
        batch, reps = int(words[0]), int(words[1])
        if batch not in cache:
            cache[batch] = make(batch)
            for _ in range(10):
                step(*cache[batch])
        times = []
        for _ in range(reps):
            t0, c0 = time.perf_counter(), time.process_time()
            step(*cache[batch])
            times.append("%.4f,%.4f" % ((time.perf_counter() - t0) * 1e3,
                                        (time.process_time() - c0) * 1e3))
        print(" ".join(times), flush=True)


if __name__ == "__main__":
    main()
