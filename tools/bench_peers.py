#!/usr/bin/python3
"""The Python peers of ./tools/bench (jxbench-all): PyTorch eager, functorch and numpy
versions of the benchmark rows, each written as a careful person writes it, driven over a
pipe so that jx and the peer run interleaved in one run.

Protocol (one line each way; the runner writes stdin, this process answers on stdout):
  hello {versions}            sent once at start: torch / numpy / functorch versions, or
                              the reason each is missing
  setup ID {json}  -> ok {json} | skip REASON | err MESSAGE
                              builds slot ID (the json names the row kind, the library,
                              the batch, the thread count and where the runner wrote the
                              initial params as .npy); rows whose numerics are checked
                              answer with the loss (or checksum) of their first step
  run ID N         -> t US US ...   N timed iterations, microseconds each (perf_counter)
  drop ID          -> ok        frees the slot
  quit

Fairness (issue 12): OMP_WAIT_POLICY=PASSIVE (set by the runner), torch.set_num_threads(T)
and OpenBLAS's own count set to T (torch and numpy both call Debian's OpenBLAS 0.3.21,
the library jx calls), denormals flushed (jx's code runs with the default MXCSR, where
none arise in these rows), updates in place under torch.no_grad, gradients set to None
rather than zeroed, batches preallocated, numpy with out= buffers.
"""
import ctypes
import gzip
import json
import os
import sys
import time

VERSIONS, MISSING = {}, {}
try:
    import numpy as np
    VERSIONS["numpy"] = np.__version__
except ImportError as e:  # the runner prints the reason
    np = None
    MISSING["numpy"] = "python3-numpy not installed (./tools/bench --peers): %s" % e
try:
    import torch
    import torch.nn.functional as F
    VERSIONS["torch"] = torch.__version__
except ImportError as e:
    torch = None
    MISSING["torch"] = "python3-torch not installed (./tools/bench --peers): %s" % e
functorch = None
if torch is not None:
    try:
        import functorch
        VERSIONS["functorch"] = functorch.__version__
    except ImportError as e:
        MISSING["functorch"] = "functorch not importable: %s" % e
else:
    MISSING["functorch"] = MISSING["torch"]


class Skip(Exception):
    """The row cannot run here; the message says why."""


def blas_threads(n):
    """Sets the thread count of the OpenBLAS loaded in this process (torch's and numpy's)."""
    for line in open("/proc/self/maps"):
        path = line.split()[-1]
        if "openblas" in path and path.endswith(".so") or "libopenblas" in path:
            try:
                ctypes.CDLL(path).openblas_set_num_threads(int(n))
                return
            except (OSError, AttributeError):
                pass


def set_threads(n):
    """torch's intra-op threads and OpenBLAS's threads to n."""
    if torch is not None:
        torch.set_num_threads(int(n))
    blas_threads(n)


def need(lib):
    mod = {"torch": torch, "numpy": np, "functorch": functorch}[lib]
    if mod is None:
        raise Skip(MISSING[lib])


def load(cfg, name):
    return np.load(os.path.join(cfg["dir"], name + ".npy"))


# ---- MLP training step (784-512-512-10, loss -mean(sum(logp * onehot, 1)), SGD) ---------

class TorchMLP:
    """Eager PyTorch: autograd, the update in place under no_grad (one foreach call)."""

    def __init__(self, cfg):
        self.ps = [torch.from_numpy(load(cfg, n)).requires_grad_() for n in
                   ("W1", "b1", "W2", "b2", "W3", "b3")]
        self.x = torch.from_numpy(load(cfg, "x"))
        self.labels = torch.from_numpy(load(cfg, "y").argmax(1))  # one-hot -> class index
        self.lr = cfg["lr"]

    def step(self):
        W1, b1, W2, b2, W3, b3 = self.ps
        h = F.relu(F.linear(self.x, W1, b1))
        h = F.relu(F.linear(h, W2, b2))
        loss = F.cross_entropy(F.linear(h, W3, b3), self.labels)  # = -mean(sum(logp*y,1))
        for p in self.ps:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            torch._foreach_add_(self.ps, [p.grad for p in self.ps], alpha=-self.lr)
        return loss


class NumpyMLP:
    """numpy: forward and backward by hand into preallocated buffers, SGD in place."""

    def __init__(self, cfg):
        self.W = [load(cfg, n) for n in ("W1", "W2", "W3")]
        self.b = [load(cfg, n) for n in ("b1", "b2", "b3")]
        self.x, self.y, self.lr = load(cfg, "x"), load(cfg, "y"), np.float32(cfg["lr"])
        B = self.x.shape[0]
        self.h = [np.empty((B, W.shape[0]), np.float32) for W in self.W]
        self.dh = [np.empty_like(h) for h in self.h]
        self.dW = [np.empty_like(W) for W in self.W]

    def step(self):
        W, b, h, dh, dW, x = self.W, self.b, self.h, self.dh, self.dW, self.x
        B = x.shape[0]
        a = x
        for l in range(3):
            np.matmul(a, W[l].T, out=h[l])
            h[l] += b[l]
            if l < 2:
                np.maximum(h[l], 0, out=h[l])
            a = h[l]
        z = h[2]
        z -= z.max(1, keepdims=True)
        lse = np.log(np.exp(z).sum(1, keepdims=True))
        z -= lse  # log-softmax in place
        loss = -np.einsum("ij,ij->", z, self.y) / B
        np.exp(z, out=dh[2])
        dh[2] -= self.y
        dh[2] *= 1.0 / B
        for l in (2, 1, 0):
            a = h[l - 1] if l else x
            if l:
                np.matmul(dh[l], W[l], out=dh[l - 1])
                dh[l - 1] *= h[l - 1] > 0
            np.matmul(dh[l].T, a, out=dW[l])
            dW[l] *= self.lr
            W[l] -= dW[l]
            b[l] -= self.lr * dh[l].sum(0)
        return loss


# ---- per-example gradients of the same MLP (vmap(grad)) --------------------------------

class FunctorchGrads:
    """functorch.vmap(functorch.grad(loss)) over the batch, params unbatched."""

    def __init__(self, cfg):
        need("functorch")
        self.ps = tuple(torch.from_numpy(load(cfg, n)) for n in
                        ("W1", "b1", "W2", "b2", "W3", "b3"))
        self.x, self.y = torch.from_numpy(load(cfg, "x")), torch.from_numpy(load(cfg, "y"))

        def loss1(ps, x, y):
            W1, b1, W2, b2, W3, b3 = ps
            h = F.relu(W1 @ x + b1)
            h = F.relu(W2 @ h + b2)
            return -(F.log_softmax(W3 @ h + b3, 0) * y).sum()
        self.f = functorch.vmap(functorch.grad(loss1), in_dims=(None, 0, 0))

    def step(self):
        with torch.no_grad():
            return self.f(self.ps, self.x, self.y)

    def check(self, out):
        return float(sum(g.double().sum() for g in out))


# ---- the Haiku CNN step (conv 4x4/4, relu, conv 4x4/4, relu, maxpool 2, linear), Adam --

class TorchCNN:
    """Eager PyTorch in NCHW (its native layout) with torch.optim.Adam (foreach)."""

    def __init__(self, cfg):
        w1, w2 = load(cfg, "conv1_w"), load(cfg, "conv2_w")  # HWIO, as Haiku keeps them
        lw = load(cfg, "linear_w").reshape(14, 14, 4, 10).transpose(2, 0, 1, 3).reshape(784, 10)
        t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).requires_grad_()
        self.ps = [t(w1.transpose(3, 2, 0, 1)), t(load(cfg, "conv1_b")),
                   t(w2.transpose(3, 2, 0, 1)), t(load(cfg, "conv2_b")),
                   t(lw.T), t(load(cfg, "linear_b"))]  # linear weight (out, in) for F.linear
        self.x = torch.from_numpy(np.ascontiguousarray(load(cfg, "x").transpose(0, 3, 1, 2)))
        self.labels = torch.from_numpy(load(cfg, "labels").astype(np.int64))
        self.opt = torch.optim.Adam(self.ps, lr=cfg["lr"], foreach=True)

    def step(self):
        c1, b1, c2, b2, lw, lb = self.ps
        h = F.relu(F.conv2d(self.x, c1, b1, padding="same"))
        h = F.relu(F.conv2d(h, c2, b2, padding="same"))
        h = F.max_pool2d(h, 2, 2).flatten(1)
        loss = F.cross_entropy(F.linear(h, lw, lb), self.labels, reduction="sum")
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return loss


# ---- elementwise chain y = tanh(0.5 x + 0.25) * exp(-|x|) + x on n f32 ------------------

class NumpyChain:
    """numpy ufuncs with out= into two preallocated temporaries (no allocation)."""

    def __init__(self, cfg):
        n = cfg["n"]
        self.x = np.random.default_rng(0).uniform(-4, 4, n).astype(np.float32)
        self.t, self.u, self.y = (np.empty(n, np.float32) for _ in range(3))

    def step(self):
        x, t, u = self.x, self.t, self.u
        np.multiply(x, np.float32(0.5), out=t)
        t += np.float32(0.25)
        np.tanh(t, out=t)
        np.abs(x, out=u)
        np.negative(u, out=u)
        np.exp(u, out=u)
        t *= u
        np.add(t, x, out=self.y)


class TorchChain:
    """torch ops with out= / in place (one pass per op; eager torch does not fuse)."""

    def __init__(self, cfg):
        n = cfg["n"]
        self.x = torch.from_numpy(np.random.default_rng(0).uniform(-4, 4, n).astype(np.float32))
        self.t, self.u, self.y = (torch.empty(n) for _ in range(3))

    def step(self):
        x, t, u = self.x, self.t, self.u
        torch.mul(x, 0.5, out=t)
        t.add_(0.25).tanh_()
        torch.abs(x, out=u)
        u.neg_().exp_()
        t.mul_(u)
        torch.add(t, x, out=self.y)


# ---- dispatch: y = x + 1 on f32[4], per call ---------------------------------------------

CALLS = 1000


class TorchDispatch:
    def __init__(self, cfg):
        self.x, self.y = torch.zeros(4), torch.empty(4)

    def step(self):
        x, y, add = self.x, self.y, torch.add
        for _ in range(CALLS):
            add(x, 1.0, out=y)


class NumpyDispatch:
    def __init__(self, cfg):
        self.x, self.y = np.zeros(4, np.float32), np.empty(4, np.float32)

    def step(self):
        x, y, add, one = self.x, self.y, np.add, np.float32(1)
        for _ in range(CALLS):
            add(x, one, out=y)


# ---- a Fashion-MNIST epoch of the JAX notebook recipe ------------------------------------

def idx(path):
    with gzip.open(path) as f:
        data = f.read()
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


class TorchEpoch:
    """784-512-512-10 relu, raw 0..255 pixels, normal(0.01) init, loss -mean(logp * onehot)
    over all B x 10 entries, SGD 0.01, batch 128 with the last partial batch, reshuffled
    every epoch (one gather per epoch, then views)."""

    def __init__(self, cfg):
        x = idx(os.path.join(cfg["data"], "train-images-idx3-ubyte.gz"))
        y = idx(os.path.join(cfg["data"], "train-labels-idx1-ubyte.gz"))
        n = cfg["n"]
        self.x = torch.from_numpy(x[:n].reshape(n, 784).astype(np.float32))
        self.y = torch.from_numpy(y[:n].astype(np.int64))
        g = torch.Generator().manual_seed(0)
        sizes = [784, 512, 512, 10]
        self.ps = []
        for l in range(3):
            self.ps.append((0.01 * torch.randn(sizes[l + 1], sizes[l], generator=g)).requires_grad_())
            self.ps.append((0.01 * torch.randn(sizes[l + 1], generator=g)).requires_grad_())
        self.batch, self.lr, self.epoch = cfg["batch"], cfg["lr"], 0

    def step(self):
        perm = torch.randperm(self.x.shape[0], generator=torch.Generator().manual_seed(self.epoch))
        self.epoch += 1
        xs, ys = self.x[perm], self.y[perm]
        W1, b1, W2, b2, W3, b3 = self.ps
        for i in range(0, xs.shape[0], self.batch):
            x, y = xs[i:i + self.batch], ys[i:i + self.batch]
            h = F.relu(F.linear(x, W1, b1))
            h = F.relu(F.linear(h, W2, b2))
            logp = F.log_softmax(F.linear(h, W3, b3), 1)
            loss = -logp.gather(1, y[:, None]).sum() / (10 * x.shape[0])  # -mean(logp*onehot)
            for p in self.ps:
                p.grad = None
            loss.backward()
            with torch.no_grad():
                torch._foreach_add_(self.ps, [p.grad for p in self.ps], alpha=-self.lr)
        return loss


# ---- the slot table and the loop -----------------------------------------------------------

KINDS = {("mlp", "torch"): TorchMLP, ("mlp", "numpy"): NumpyMLP,
         ("pe_grads", "functorch"): FunctorchGrads, ("cnn", "torch"): TorchCNN,
         ("elt", "numpy"): NumpyChain, ("elt", "torch"): TorchChain,
         ("dispatch", "torch"): TorchDispatch, ("dispatch", "numpy"): NumpyDispatch,
         ("epoch", "torch"): TorchEpoch}


def setup(cfg):
    """A new slot for cfg, and the JSON of its reply (a checked first step's value)."""
    lib = cfg["lib"]
    need("functorch" if lib == "functorch" else lib)
    need("numpy")
    kind = KINDS.get((cfg["kind"], lib))
    if kind is None:
        raise Skip("no %s peer for %s" % (lib, cfg["kind"]))
    set_threads(cfg.get("threads", 1))
    if torch is not None:
        torch.set_flush_denormal(True)
    slot = kind(cfg)
    reply = {}
    if cfg.get("check"):
        out = slot.step()
        reply["value"] = slot.check(out) if hasattr(slot, "check") else float(out)
    return slot, reply


def main():
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    out = sys.stdout
    out.write("hello %s\n" % json.dumps({"versions": VERSIONS, "missing": MISSING}))
    out.flush()
    slots = {}
    for line in sys.stdin:
        parts = line.rstrip("\n").split(" ", 2)
        cmd = parts[0]
        sid = parts[1] if len(parts) > 1 else ""
        try:
            if cmd == "quit":
                break
            elif cmd == "setup":
                slots.pop(sid, None)
                slot, reply = setup(json.loads(parts[2]))
                slots[sid] = slot
                out.write("ok %s\n" % json.dumps(reply))
            elif cmd == "run":
                step, ts = slots[sid].step, []
                for _ in range(int(parts[2])):
                    t0 = time.perf_counter()
                    step()
                    ts.append((time.perf_counter() - t0) * 1e6)
                if isinstance(slots[sid], (TorchDispatch, NumpyDispatch)):
                    ts = [t / CALLS for t in ts]
                out.write("t %s\n" % " ".join("%.3f" % t for t in ts))
            elif cmd == "drop":
                slots.pop(sid, None)
                out.write("ok\n")
            else:
                out.write("err unknown command %r\n" % cmd)
        except Skip as e:
            out.write("skip %s\n" % e)
        except Exception as e:  # reported to the runner, which prints it
            out.write("err %s: %s\n" % (type(e).__name__, str(e).replace("\n", " ")[:300]))
        out.flush()


if __name__ == "__main__":
    main()
