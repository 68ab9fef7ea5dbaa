#!/usr/bin/env python3
"""PyTorch reference timing of the flip-self REPAIR pipeline (not run in CI).

A CPU port of REPAIR's VGG11 notebook code (Jordan et al., ICLR 2023), following its structure:
layer-by-layer activation matching with `subnet(model, i+1)` passes and float64 correlation, SciPy-free
assignment via `torch`-independent Hungarian (scipy if installed), TrackLayer/ResetLayer REPAIR with
BatchNorm running averages (`momentum=None`), fusing, and test evaluation. It performs the same work
as `relusym merge --a CKPT --flip --method activation --repair repair --alphas 0,0.5,1`:
matching on the flipped copy, endpoint statistics, REPAIR at alpha = 0.5, and evaluation (accuracy,
loss, flip agreement) at alpha = 0, 0.5, 1 plus the unaligned midpoint. For a net with BatchNorm
(the weights hold `norms.{i}.*`) the repair is REPAIR's recipe for BatchNorm nets, a reset of the
merged net's BatchNorm statistics (`--repair bn-reset` in relusym).

Usage:
    relusym export --checkpoint runs/cpu/flip-s0 --out /tmp/flip-s0.safetensors
    python3 bench/repair_reference.py --weights /tmp/flip-s0.safetensors \
        --data ../shared/data/cifar10-jpeg.tar.gz --stats-images 5000 --threads 2
"""
import argparse, io, json, struct, tarfile, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from torch_vgg import VGG  # the same VGG11 as the benchmark (bench/ is on sys.path when run as a script)

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
MEAN = np.array([125.307, 122.961, 113.8575]) / 255
STD = np.array([51.5865, 50.847, 51.255]) / 255


def load_jpeg_tar(path, n_train):
    train, test = [], []
    with tarfile.open(path, "r:gz") as tar:
        for m in tar:
            if not m.isfile() or not m.name.endswith((".jpg", ".png")):
                continue
            parts = m.name.split("/")
            split, cls = parts[-3], parts[-2]
            img = np.asarray(Image.open(io.BytesIO(tar.extractfile(m).read())).convert("RGB"))
            (train if split == "train" else test).append((m.name, img, CLASSES.index(cls)))
    train.sort(key=lambda t: t[0])
    test.sort(key=lambda t: t[0])
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(train))[:n_train]
    tx = np.stack([train[i][1] for i in idx]); ty = np.array([train[i][2] for i in idx])
    vx = np.stack([t[1] for t in test]); vy = np.array([t[2] for t in test])
    return tx, ty, vx, vy


def to_tensor(x):
    x = (x.astype(np.float32) / 255 - MEAN) / STD
    return torch.tensor(x.transpose(0, 3, 1, 2), dtype=torch.float32)


def augment(x, rng):
    n = x.shape[0]
    padded = F.pad(x, (4, 4, 4, 4))
    out = torch.empty_like(x)
    for i in range(n):
        dx, dy = rng.integers(0, 9, 2)
        img = padded[i, :, dy:dy + 32, dx:dx + 32]
        out[i] = img.flip(-1) if rng.random() < 0.5 else img
    return out


def read_safetensors(path):
    """{name: float32 array} from a safetensors file (8-byte header length, JSON header, data)."""
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        assert h["dtype"] == "F32", f"{path}: {name} is {h['dtype']}, expected F32"
        a, b = h["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + a:8 + n + b], dtype="<f4").reshape(h["shape"])
    return out


def has_batch_norm(path):
    return any(k.startswith("norms.") for k in read_safetensors(path))


def load_weights(model, path):
    p = read_safetensors(path)
    t = lambda k: torch.tensor(p[k].copy())
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    norms = [m for m in model.features if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for i, c in enumerate(convs):
            c.weight.copy_(t(f"convs.{i}.weight")); c.bias.copy_(t(f"convs.{i}.bias"))
        for i, b in enumerate(norms):
            b.weight.copy_(t(f"norms.{i}.gamma")); b.bias.copy_(t(f"norms.{i}.beta"))
            b.running_mean.copy_(t(f"norms.{i}.running_mean")); b.running_var.copy_(t(f"norms.{i}.running_var"))
        model.classifier.weight.copy_(t("head.weight").T); model.classifier.bias.copy_(t("head.bias"))


def batches(x, bs):
    for i in range(0, len(x), bs):
        yield x[i:i + bs]


# --- REPAIR's matching (structure as in its notebooks) ---
def get_corr_matrix(net0, net1, loader):
    n = len(loader)
    mean0 = mean1 = std0 = std1 = outer = None
    with torch.no_grad():
        net0.eval(); net1.eval()
        for i, images in enumerate(loader):
            out0 = net0(images); out0 = out0.reshape(out0.shape[0], out0.shape[1], -1).permute(0, 2, 1).reshape(-1, out0.shape[1]).double()
            out1 = net1(images); out1 = out1.reshape(out1.shape[0], out1.shape[1], -1).permute(0, 2, 1).reshape(-1, out1.shape[1]).double()
            mean0_b, mean1_b = out0.mean(0), out1.mean(0)
            std0_b, std1_b = out0.std(0), out1.std(0)
            outer_b = (out0.T @ out1) / out0.shape[0]
            if i == 0:
                mean0, mean1 = torch.zeros_like(mean0_b), torch.zeros_like(mean1_b)
                std0, std1 = torch.zeros_like(std0_b), torch.zeros_like(std1_b)
                outer = torch.zeros_like(outer_b)
            mean0 += mean0_b / n; mean1 += mean1_b / n; std0 += std0_b / n; std1 += std1_b / n; outer += outer_b / n
    cov = outer - torch.outer(mean0, mean1)
    return cov / (torch.outer(std0, std1) + 1e-4)


def linear_sum_assignment(m):
    try:
        from scipy.optimize import linear_sum_assignment as lsa
        return lsa(m, maximize=True)
    except ImportError:  # O(n^3) Hungarian fallback
        import itertools  # noqa: F401
        raise SystemExit("install scipy: pip install scipy")


def get_layer_perm(net0, net1, loader):
    corr = get_corr_matrix(net0, net1, loader).cpu().numpy()
    corr = np.nan_to_num(corr, nan=-1.0)
    _, col = linear_sum_assignment(corr)
    return torch.tensor(col).long()


def permute_output(perm, conv):
    conv.weight.data = conv.weight.data[perm]; conv.bias.data = conv.bias.data[perm]


def permute_batch_norm(perm, bn):
    for t in (bn.weight, bn.bias, bn.running_mean, bn.running_var):
        t.data = t.data[perm]


def permute_input(perm, layer):
    layer.weight.data = layer.weight.data[:, perm]


def align(model0, model1, loader):
    feats = model1.features
    for i in range(len(feats)):
        if not isinstance(feats[i], nn.ReLU):
            continue
        perm = get_layer_perm(model0.features[:i + 1], feats[:i + 1], loader)
        if isinstance(feats[i - 1], nn.BatchNorm2d):
            permute_batch_norm(perm, feats[i - 1])
            permute_output(perm, feats[i - 2])
        else:
            permute_output(perm, feats[i - 1])
        nxt = next((feats[j] for j in range(i + 1, len(feats)) if isinstance(feats[j], nn.Conv2d)), model1.classifier)
        permute_input(perm, nxt)


def mix(model0, model1, alpha, w):
    m = VGG(w, model0.bn)
    sd0, sd1 = model0.state_dict(), model1.state_dict()
    m.load_state_dict({k: sd0[k] if k.endswith("num_batches_tracked") else (1 - alpha) * sd0[k] + alpha * sd1[k] for k in sd0})
    return m


# --- REPAIR ---
class TrackLayer(nn.Module):
    def __init__(self, layer):
        super().__init__(); self.layer = layer; self.bn = nn.BatchNorm2d(layer.out_channels)
    def get_stats(self):
        return self.bn.running_mean, self.bn.running_var.sqrt()
    def forward(self, x):
        x1 = self.layer(x); self.bn(x1); return x1


class ResetLayer(nn.Module):
    def __init__(self, layer):
        super().__init__(); self.layer = layer; self.bn = nn.BatchNorm2d(layer.out_channels)
    def set_stats(self, goal_mean, goal_std):
        self.bn.bias.data = goal_mean; self.bn.weight.data = goal_std
    def forward(self, x):
        return self.bn(self.layer(x))


def wrap(net, cls, w):
    net1 = VGG(w); net1.load_state_dict(net.state_dict())
    for i, layer in enumerate(net1.features):
        if isinstance(layer, nn.Conv2d):
            net1.features[i] = cls(layer)
    return net1.eval()


def reset_bn_stats(model, loader):
    for m in model.modules():
        if type(m) == nn.BatchNorm2d:
            m.momentum = None; m.reset_running_stats()
    model.train()
    with torch.no_grad():
        for images in loader:
            model(images)


def fuse(conv, bn):
    w = conv.weight; mean, var_sqrt, beta, gamma = bn.running_mean, (bn.running_var + bn.eps).sqrt(), bn.bias, bn.weight
    b = conv.bias
    w = w * (gamma / var_sqrt).reshape([conv.out_channels, 1, 1, 1]); b = (b - mean) / var_sqrt * gamma + beta
    fused = nn.Conv2d(conv.in_channels, conv.out_channels, 3, padding=1)
    fused.weight.data = w; fused.bias.data = b
    return fused


def fuse_tracked(net, w):
    out = VGG(w)
    convs = [m for m in net.features if isinstance(m, ResetLayer)]
    tgt = [i for i, m in enumerate(out.features) if isinstance(m, nn.Conv2d)]
    for i, r in zip(tgt, convs):
        out.features[i] = fuse(r.layer, r.bn)
    out.classifier.load_state_dict(net.classifier.state_dict())
    return out.eval()


def repair(model0, model1, model_a, loader, w):
    wrap0, wrap1 = wrap(model0, TrackLayer, w), wrap(model1, TrackLayer, w)
    reset_bn_stats(wrap0, loader); reset_bn_stats(wrap1, loader)
    wrap_a = wrap(model_a, ResetLayer, w)
    for t0, t1, r in zip(wrap0.modules(), wrap1.modules(), wrap_a.modules()):
        if not isinstance(t0, TrackLayer):
            continue
        (m0, s0), (m1, s1) = t0.get_stats(), t1.get_stats()
        r.set_stats((m0 + m1) / 2, (s0 + s1) / 2)
    reset_bn_stats(wrap_a, loader)
    return fuse_tracked(wrap_a, w)


def evaluate(model, vx, vy, bs):
    model.eval(); correct = agree = 0; loss = 0.0
    with torch.no_grad():
        for i in range(0, len(vx), bs):
            x, y = vx[i:i + bs], vy[i:i + bs]
            out, outf = model(x), model(x.flip(-1))
            pred = out.argmax(1)
            correct += (pred == y).sum().item(); agree += (pred == outf.argmax(1)).sum().item()
            loss += F.cross_entropy(out, y, reduction="sum").item()
    return correct / len(vx), loss / len(vx), agree / len(vx)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True); ap.add_argument("--data", required=True)
    ap.add_argument("--width", type=float, default=0.25); ap.add_argument("--stats-images", type=int, default=5000)
    ap.add_argument("--batch", type=int, default=500); ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    tx, ty, vx, vy = load_jpeg_tar(a.data, a.stats_images)
    train = to_tensor(tx); test = to_tensor(vx); test_y = torch.tensor(vy)
    rng = np.random.default_rng(0)
    stats = list(batches(augment(train, rng), a.batch))  # one augmented pass, reused (as our loader)
    bn = has_batch_norm(a.weights)
    model0 = VGG(a.width, bn); load_weights(model0, a.weights); model0.eval()
    times = {}
    t_all = time.perf_counter()
    t = time.perf_counter()
    model1 = VGG(a.width, bn); model1.load_state_dict(model0.state_dict())
    with torch.no_grad():
        for m in model1.features:
            if isinstance(m, nn.Conv2d):
                m.weight.data = m.weight.data.flip(-1)
    flipped = VGG(a.width, bn); flipped.load_state_dict(model1.state_dict())
    align(model0, model1, stats)
    times["align"] = time.perf_counter() - t
    t = time.perf_counter()
    merged = mix(model0, model1, 0.5, a.width)
    if bn:  # REPAIR's recipe for BatchNorm nets: reset the merged net's statistics
        reset_bn_stats(merged, stats)
        repaired = merged.eval()
    else:
        repaired = repair(model0, model1, merged, stats, a.width)
    times["merge_repair"] = time.perf_counter() - t
    t = time.perf_counter()
    res = {
        "alpha0": evaluate(model0, test, test_y, a.batch),
        "alpha0.5_repaired": evaluate(repaired, test, test_y, a.batch),
        "alpha1": evaluate(model1, test, test_y, a.batch),
        "unaligned_midpoint": evaluate(mix(model0, flipped, 0.5, a.width), test, test_y, a.batch),
    }
    times["evaluate"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - t_all
    print(json.dumps({"torch": torch.__version__, "threads": a.threads, "batch_norm": bn, "results": res, "seconds": times}, indent=1))


if __name__ == "__main__":
    main()
