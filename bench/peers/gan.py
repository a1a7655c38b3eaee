"""Eager-PyTorch peer of the `gan` step (fsgen/methods/gan.py with fsgen/nets/dcgan.py).

The same nets (NCHW here): G = dense to 4x4x(8w), pixel norm, ReLU, then per level a 3x3 conv to 4C and
pixel shuffle (sub-pixel 2x up, `form="subpixel"`, fsgen's form) or a 4x4 stride-2 ConvTranspose2d
(`form="convtranspose"`, DCGAN's own form), pixel norm, ReLU; a 3x3 conv and tanh. D = 4x4 stride-2 convs
with LeakyReLU 0.2 down to 4x4, then a linear layer. Non-saturating loss, the official DiffAugment
(color, translation, cutout) on reals and fakes, Adam(2e-4, 0.5, 0.999) for both nets, EMA of G (0.999)
after the G step. One step = the D step (fakes without graph, D on augmented reals and fakes) then the G
step with D's parameters' gradients off (requires_grad False), as a PyTorch user writes it. The step reads
no value back to the host (no .item()); fsgen's step in addition checks every parameter for finiteness
and computes gradient norms, which the peer skips (it only helps the peer).
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from bench.peers.diffaug import diff_augment


def pixel_norm(x, eps=1e-8):
  return x * torch.rsqrt(torch.mean(x * x, dim=1, keepdim=True) + eps)


class Generator(nn.Module):
  def __init__(self, resolution=32, channels=3, width=64, z_dim=128, form="subpixel"):
    super().__init__()
    levels = int(math.log2(resolution)) - 2
    self.c0 = width * 2 ** (levels - 1)
    self.fc = nn.Linear(z_dim, 16 * self.c0)
    ups, cin = [], self.c0
    for i in range(levels):
      c = width * 2 ** (levels - 2 - i) if i < levels - 1 else width
      if form == "subpixel":
        ups.append(nn.Sequential(nn.Conv2d(cin, 4 * c, 3, padding=1), nn.PixelShuffle(2)))
      elif form == "convtranspose":
        ups.append(nn.ConvTranspose2d(cin, c, 4, 2, 1))
      else:
        raise ValueError(f"unknown generator form {form!r} (subpixel, convtranspose)")
      cin = c
    self.ups = nn.ModuleList(ups)
    self.out = nn.Conv2d(width, channels, 3, padding=1)

  def forward(self, z):
    x = F.relu(pixel_norm(self.fc(z).view(z.shape[0], self.c0, 4, 4)))
    for up in self.ups:
      x = F.relu(pixel_norm(up(x)))
    return torch.tanh(self.out(x))


class Discriminator(nn.Module):
  def __init__(self, resolution=32, channels=3, width=64):
    super().__init__()
    levels = int(math.log2(resolution)) - 2
    convs, cin = [], channels
    for i in range(levels):
      convs.append(nn.Conv2d(cin, width * 2**i, 4, 2, 1))
      cin = width * 2**i
    self.convs = nn.ModuleList(convs)
    self.fc = nn.Linear(cin * 16, 1)

  def forward(self, x):
    for conv in self.convs:
      x = F.leaky_relu(conv(x), 0.2)
    return self.fc(x.flatten(1))[:, 0]


def build(res=32, batch=64, width=64, form="subpixel", z_dim=128, num_images=100, policy="color,translation,cutout"):
  torch.manual_seed(0)
  G, D = Generator(res, 3, width, z_dim, form), Discriminator(res, 3, width)
  ema = [p.detach().clone() for p in G.parameters()]
  opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
  opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
  images = torch.randint(0, 255, (num_images, 3, res, res), dtype=torch.uint8)

  def step(i):
    # D step.
    real = images[torch.randperm(num_images)[:batch]].float() / 127.5 - 1.0
    with torch.no_grad():
      fake = G(torch.randn(batch, z_dim))
    real_logits, fake_logits = D(diff_augment(real, policy)), D(diff_augment(fake, policy))
    loss_d = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    # G step, D frozen.
    D.requires_grad_(False)
    loss_g = F.softplus(-D(diff_augment(G(torch.randn(batch, z_dim)), policy))).mean()
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    D.requires_grad_(True)
    with torch.no_grad():
      torch._foreach_lerp_(ema, list(G.parameters()), 1.0 - 0.999)
    return loss_d.detach(), loss_g.detach()

  return step, lambda: None
