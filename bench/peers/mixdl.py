"""Eager-PyTorch peer of the light StyleGAN2 MixDL step (fsgen/methods/mixdl.py on fsgen/nets/stylegan2.py),
the bench/step_speed.py row `mixdl,stylegan2,64,{0,1} --size=cpu`.

Nets as fsgen's (NCHW here): mapping (pixel norm, 4 equalised dense layers, lr_mul 0.01, fused leaky ReLU),
constant 4x4, per resolution an up-sampling styled conv (bilinear 2x, then a modulated / demodulated 3x3
conv in the non-fused form) and a styled conv, per-pixel noise, skip ToRGB; the residual discriminator
with 2x2 average-pool downsampling, minibatch stddev (group 4), the projection `sim` and four 3x3 patch
heads (fused leaky ReLU on them). Light sizes: z = w = 128, channels min(128, 1024 / res), 64 px, batch 4.
Steps as fsgen's phases (no DiffAugment, flip on): with MixDL, even steps are the mixup D step (patch loss
on reals and Dirichlet mixes of W codes, + lambda_D 1 x KL on the projected features of [edges; mixes]) and
the mixup G step (patch loss of G(C W) + lambda_G 1000 x the layer-wise KL on a fresh batch), odd steps
the plain D and G steps (non-saturating loss, style mixing 0.9); without MixDL every step is plain. Lazy
R1 (gamma 10, every 16, x interval; on patch means with MixDL) and path length (weight 2, every 4, half
batch, decay 0.01) as fsgen's; Adam with StyleGAN2's lazy-regularisation lr / beta2; EMA of G after each
G step; D's gradients off in the G steps.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)


def ch_at(res, base=1024, cmax=128):
  return max(1, min(cmax, base // res))


def fused_lrelu(x, bias):
  shape = (1, -1) + (1,) * (x.dim() - 2)
  return F.leaky_relu(x + bias.view(shape), 0.2) * SQRT2


class EqualDense(nn.Module):
  def __init__(self, cin, cout, lr_mul=1.0, bias_init=0.0, bias=True):
    super().__init__()
    self.weight = nn.Parameter(torch.randn(cout, cin) / lr_mul)
    self.bias = nn.Parameter(torch.full((cout,), float(bias_init))) if bias else None
    self.scale, self.lr_mul = lr_mul / math.sqrt(cin), lr_mul

  def forward(self, x):
    return F.linear(x, self.weight * self.scale, None if self.bias is None else self.bias * self.lr_mul)


class EqualConv(nn.Module):
  def __init__(self, cin, cout, k, bias=True):
    super().__init__()
    self.weight = nn.Parameter(torch.randn(cout, cin, k, k))
    self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
    self.scale, self.pad = 1 / math.sqrt(cin * k * k), k // 2

  def forward(self, x):
    return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.pad)


class ConvAct(nn.Module):
  def __init__(self, cin, cout, k, down=False):
    super().__init__()
    self.conv, self.down = EqualConv(cin, cout, k, bias=False), down
    self.bias = nn.Parameter(torch.zeros(cout))

  def forward(self, x):
    if self.down:
      x = F.avg_pool2d(x, 2)
    return fused_lrelu(self.conv(x), self.bias)


class ModConv(nn.Module):
  def __init__(self, cin, cout, k, w_dim, demodulate=True, up=False):
    super().__init__()
    self.style = EqualDense(w_dim, cin, bias_init=1.0)
    self.weight = nn.Parameter(torch.randn(cout, cin, k, k))
    self.scale, self.pad, self.demodulate, self.up = 1 / math.sqrt(cin * k * k), k // 2, demodulate, up

  def forward(self, x, w):
    s = self.style(w)
    weight = self.weight * self.scale
    if self.up:
      x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    y = F.conv2d(x * s[:, :, None, None], weight, padding=self.pad)
    if self.demodulate:
      d = torch.rsqrt(s.square() @ weight.square().sum(dim=(2, 3)).t() + 1e-8)
      y = y * d[:, :, None, None]
    return y


class StyledConv(nn.Module):
  def __init__(self, cin, cout, w_dim, up=False):
    super().__init__()
    self.conv = ModConv(cin, cout, 3, w_dim, up=up)
    self.noise_strength = nn.Parameter(torch.zeros(()))
    self.bias = nn.Parameter(torch.zeros(cout))

  def forward(self, x, w):
    y = self.conv(x, w)
    y = y + self.noise_strength * torch.randn(y.shape[0], 1, y.shape[2], y.shape[3])
    return fused_lrelu(y, self.bias)


class ToRGB(nn.Module):
  def __init__(self, cin, w_dim, channels=3):
    super().__init__()
    self.conv = ModConv(cin, channels, 1, w_dim, demodulate=False)
    self.bias = nn.Parameter(torch.zeros(channels))

  def forward(self, x, w, skip=None):
    y = self.conv(x, w) + self.bias.view(1, -1, 1, 1)
    return y if skip is None else y + F.interpolate(skip, scale_factor=2, mode="bilinear", align_corners=False)


class Generator(nn.Module):
  def __init__(self, res=64, z_dim=128, w_dim=128, n_mlp=4, lr_mlp=0.01):
    super().__init__()
    self.levels = int(math.log2(res)) - 2
    self.num_ws, self.num_feats, self.z_dim = 2 * self.levels + 2, 2 * self.levels + 1, z_dim
    dims = [z_dim] + [w_dim] * (n_mlp - 1)
    self.mapping = nn.ModuleList(EqualDense(d, w_dim, lr_mlp, bias=False) for d in dims)
    self.mapping_bias = nn.ParameterList(nn.Parameter(torch.zeros(w_dim)) for _ in range(n_mlp))
    self.lr_mlp = lr_mlp
    self.const = nn.Parameter(torch.randn(1, ch_at(4), 4, 4))
    self.conv4, self.rgb4 = StyledConv(ch_at(4), ch_at(4), w_dim), ToRGB(ch_at(4), w_dim)
    res_list = [2 ** (i + 3) for i in range(self.levels)]
    self.ups = nn.ModuleList(StyledConv(ch_at(r // 2), ch_at(r), w_dim, up=True) for r in res_list)
    self.convs = nn.ModuleList(StyledConv(ch_at(r), ch_at(r), w_dim) for r in res_list)
    self.rgbs = nn.ModuleList(ToRGB(ch_at(r), w_dim) for r in res_list)

  def map(self, z):
    x = z * torch.rsqrt(z.square().mean(dim=1, keepdim=True) + 1e-8)
    for dense, bias in zip(self.mapping, self.mapping_bias):
      x = fused_lrelu(dense(x), bias * self.lr_mlp)
    return x

  def synthesize(self, ws, return_feats=False):
    if ws.dim() == 2:
      ws = ws[:, None].expand(ws.shape[0], self.num_ws, ws.shape[1])
    x = self.conv4(self.const.expand(ws.shape[0], -1, -1, -1), ws[:, 0])
    feats = [x]
    rgb = self.rgb4(x, ws[:, 1])
    for i, (up, conv, to_rgb) in enumerate(zip(self.ups, self.convs, self.rgbs)):
      x = up(x, ws[:, 1 + 2 * i])
      feats.append(x)
      x = conv(x, ws[:, 2 + 2 * i])
      feats.append(x)
      rgb = to_rgb(x, ws[:, 3 + 2 * i], rgb)
    return (rgb, feats) if return_feats else rgb


class ResBlock(nn.Module):
  def __init__(self, cin, cout):
    super().__init__()
    self.c1, self.c2 = ConvAct(cin, cin, 3), ConvAct(cin, cout, 3, down=True)
    self.skip = EqualConv(cin, cout, 1, bias=False)

  def forward(self, x):
    h1 = self.c1(x)
    h2 = self.c2(h1)
    return (h2 + self.skip(F.avg_pool2d(x, 2))) / SQRT2, h1, h2


def minibatch_stddev(x, group=4):
  b, c, h, w = x.shape
  g = min(group, b) if b % min(group, b) == 0 else 1
  s = torch.sqrt(x.view(g, b // g, c, h, w).var(dim=0, unbiased=False) + 1e-8).mean(dim=(1, 2, 3))
  return torch.cat([x, s.repeat(g)[:, None, None, None].expand(b, 1, h, w)], dim=1)


class Discriminator(nn.Module):
  def __init__(self, res=64):
    super().__init__()
    self.levels = int(math.log2(res)) - 2
    self.rgb = ConvAct(3, ch_at(res), 1)
    self.blocks = nn.ModuleList(ResBlock(ch_at(res >> i), ch_at(res >> (i + 1))) for i in range(self.levels))
    n = self.levels
    self.candidates = [(b, which) for b, which in ((n - 4, 2), (n - 3, 1), (n - 3, 2), (n - 2, 1)) if b >= 0]
    head_in = [ch_at(res >> b) if which == 1 else ch_at(res >> (b + 1)) for b, which in self.candidates]
    self.heads = nn.ModuleList(EqualConv(c, 1, 3, bias=False) for c in head_in)
    self.head_bias = nn.ParameterList(nn.Parameter(torch.zeros(1)) for _ in self.candidates)
    self.final = ConvAct(ch_at(4) + 1, ch_at(4), 3)
    self.fc = EqualDense(ch_at(4) * 16, ch_at(4), bias=False)
    self.fc_bias = nn.Parameter(torch.zeros(ch_at(4)))
    self.out, self.sim = EqualDense(ch_at(4), 1), EqualDense(ch_at(4), ch_at(4))

  def forward(self, x):
    x = self.rgb(x)
    maps = {1: [], 2: []}
    for block in self.blocks:
      x, h1, h2 = block(x)
      maps[1].append(h1)
      maps[2].append(h2)
    patches = [
      fused_lrelu(head(maps[which][b]), bias)[:, 0]
      for (b, which), head, bias in zip(self.candidates, self.heads, self.head_bias)
    ]
    x = self.final(minibatch_stddev(x))
    d1 = fused_lrelu(self.fc(x.flatten(1)), self.fc_bias)
    return {"logit": self.out(d1)[:, 0], "sim": self.sim(d1), "patches": patches}


def _kl(sims, coeffs):
  log_q, log_p = F.log_softmax(sims, -1), F.log_softmax(coeffs, -1)
  return (log_p.exp() * (log_p - log_q)).mean()


def _cos(a, b):
  a, b = F.normalize(a.flatten(1), dim=1, eps=1e-8), F.normalize(b.flatten(1), dim=1, eps=1e-8)
  return a @ b.t()


def build(res=64, mixdl=True, batch=4, num_images=100):
  torch.manual_seed(0)
  G, D = Generator(res), Discriminator(res)
  ema = [p.detach().clone() for p in G.parameters()]
  opt_g = torch.optim.Adam(G.parameters(), lr=0.002 * 4 / 5, betas=(0.0, 0.99 ** (4 / 5)))
  opt_d = torch.optim.Adam(D.parameters(), lr=0.002 * 16 / 17, betas=(0.0, 0.99 ** (16 / 17)))
  images = torch.randint(0, 255, (num_images, 3, res, res), dtype=torch.uint8)
  n, pl_mean = batch, torch.zeros(())
  dirichlet = torch.distributions.Dirichlet(torch.ones(n))

  def reals():
    x = images[torch.randperm(num_images)[:n]].float() / 127.5 - 1.0
    return torch.where(torch.rand(n, 1, 1, 1) < 0.5, x.flip(3), x)

  def codes(m):
    return G.map(torch.randn(m, G.z_dim))

  def mixed_codes(m, prob=0.9):
    w1, w2 = codes(m), codes(m)
    cut = int(torch.randint(1, G.num_ws, ())) if float(torch.rand(())) < prob else G.num_ws
    return torch.where(torch.arange(G.num_ws)[None, :, None] < cut, w1[:, None], w2[:, None])

  def adam(opt, loss):
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()

  def d_step():
    with torch.no_grad():
      fake = G.synthesize(mixed_codes(n))
    loss = F.softplus(-D(reals())["logit"]).mean() + F.softplus(D(fake)["logit"]).mean()
    adam(opt_d, loss)

  def d_mix_step():
    c = dirichlet.sample((n,))
    with torch.no_grad():
      w = codes(n)
      both = G.synthesize(torch.cat([w, c @ w]))
    out_r, out_m = D(reals()), D(both[n:])
    k = int(torch.randint(0, len(out_r["patches"]), ()))
    loss = F.softplus(-out_r["patches"][k]).mean() + F.softplus(out_m["patches"][k]).mean()
    sim = D(both)["sim"]
    adam(opt_d, loss + 1.0 * _kl(_cos(sim[n:], sim[:n]), c))

  def r1_step():
    x = reals().requires_grad_(True)
    out = D(x)
    logits = out["patches"][int(torch.randint(0, len(out["patches"]), ()))].mean(dim=(1, 2)) if mixdl else out["logit"]
    (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
    adam(opt_d, 0.5 * 10.0 * 16 * grad.square().sum(dim=(1, 2, 3)).mean())

  def g_step():
    loss = F.softplus(-D(G.synthesize(mixed_codes(n)))["logit"]).mean()
    adam(opt_g, loss)

  def g_mix_step():
    c = dirichlet.sample((n,))
    w_edge = codes(n)
    imgs, feats = G.synthesize(torch.cat([c @ codes(n), w_edge, c @ w_edge]), return_feats=True)
    patches = D(imgs[:n])["patches"]
    loss = F.softplus(-patches[int(torch.randint(0, len(patches), ()))]).mean()
    layers = torch.randint(0, G.num_feats - 2, (n,))
    sims = torch.stack([_cos(f[2 * n :], f[n : 2 * n]) for f in feats[1:-1]])
    adam(opt_g, loss + 1000.0 * _kl(sims[layers, torch.arange(n)], c))

  def pl_step():
    nonlocal pl_mean
    m = max(1, n // 2)
    ws = mixed_codes(m)
    imgs = G.synthesize(ws)
    noise = torch.randn_like(imgs) / math.sqrt(imgs.shape[2] * imgs.shape[3])
    (grad,) = torch.autograd.grad((imgs * noise).sum(), ws, create_graph=True)
    lengths = grad.square().sum(dim=2).mean(dim=1).sqrt()
    pl_mean = (pl_mean + 0.01 * (lengths.mean() - pl_mean)).detach()
    adam(opt_g, 2.0 * 4 * (lengths - pl_mean).square().mean())

  def with_d_frozen(fn):
    D.requires_grad_(False)
    fn()
    D.requires_grad_(True)
    with torch.no_grad():
      torch._foreach_lerp_(ema, list(G.parameters()), 1.0 - 0.5 ** (32 / 10000))

  def step(i):
    mix = mixdl and i % 2 == 0
    d_mix_step() if mix else d_step()
    if i % 16 == 0:
      r1_step()
    with_d_frozen(g_mix_step if mix else g_step)
    if i % 4 == 0:
      D.requires_grad_(False)
      pl_step()
      D.requires_grad_(True)

  return step, lambda: None
