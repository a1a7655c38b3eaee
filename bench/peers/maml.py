"""Eager-PyTorch peer of the LASIUM MAML meta-iteration (fsgen/meta/maml.py on fsgen/nets/omniglot_learner.py).

learn2learn-style MAML (its clone / adapt mechanics, written out): per task, the parameters are cloned into
the graph, `inner_steps` SGD steps use torch.autograd.grad on the support loss (create_graph=True for
second order, False for first order), the adapted parameters classify the queries, and the mean query loss
over the tasks is backpropagated to the meta-parameters, followed by one Adam step. The net is fsgen's
Omniglot learner: 4 blocks of 3x3 stride-2 conv (64 channels, bias) -> batch norm with batch statistics
and a learnt offset only (eps 1e-3) -> ReLU, spatial mean, linear to n_way logits. Sizes: 4 tasks of
5-way 1-shot, 5 queries per class, 28x28x1, 5 inner steps at lr 0.4, meta Adam lr 1e-3; random images and
fixed label order, as fsgen's bench row.
"""

import torch
import torch.nn.functional as F


def init_params(width=64, blocks=4, n_way=5, channels=1):
  torch.manual_seed(0)
  params, cin = [], channels
  for _ in range(blocks):
    conv = torch.nn.Conv2d(cin, width, 3)
    params += [conv.weight.detach(), conv.bias.detach(), torch.zeros(width)]
    cin = width
  dense = torch.nn.Linear(width, n_way)
  params += [dense.weight.detach(), dense.bias.detach()]
  return [p.clone().requires_grad_(True) for p in params]


def forward(params, x, blocks=4):
  for i in range(blocks):
    w, b, beta = params[3 * i : 3 * i + 3]
    x = F.conv2d(x, w, b, stride=2, padding=1)
    # A constant unit scale (no learnt scale): the same function as weight=None, whose double backward
    # fails in torch 2.13 ("Expected a proper Tensor but got None" in the second-order meta-gradient).
    scale = torch.ones_like(beta)
    x = F.relu(F.batch_norm(x, None, None, scale, beta, training=True, eps=1e-3))
  return F.linear(x.mean(dim=(2, 3)), params[-2], params[-1])


def build(order=2, tasks=4, n_way=5, k_shot=1, k_query=5, inner_steps=5, inner_lr=0.4, res=28):
  params = init_params(n_way=n_way)
  opt = torch.optim.Adam(params, lr=1e-3)
  gen = torch.Generator().manual_seed(0)
  support = torch.rand(tasks, n_way * k_shot, 1, res, res, generator=gen) * 2 - 1
  query = torch.rand(tasks, n_way * k_query, 1, res, res, generator=gen) * 2 - 1
  ys = torch.arange(n_way).repeat_interleave(k_shot)
  yq = torch.arange(n_way).repeat_interleave(k_query)

  def step(i):
    total = 0.0
    for t in range(tasks):
      fast = list(params)
      for _ in range(inner_steps):
        loss = F.cross_entropy(forward(fast, support[t]), ys)
        grads = torch.autograd.grad(loss, fast, create_graph=order == 2, retain_graph=order == 2)
        fast = [p - inner_lr * g for p, g in zip(fast, grads)]
      total = total + F.cross_entropy(forward(fast, query[t]), yq)
    meta_loss = total / tasks
    opt.zero_grad(set_to_none=True)
    meta_loss.backward()
    opt.step()
    return meta_loss.detach()

  return step, lambda: None
