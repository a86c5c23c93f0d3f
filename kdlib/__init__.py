"""kdlib: the science of the kd-imagegen course (data, models, losses, distillation, training, metrics, evaluation),
one idea per module. This face holds what the notebooks call; everything else lives in its module (``kdlib.cost``,
``kdlib.plots``, ...). The course machinery is the wing ``kdlib.course``, which this core never imports.
"""

from kdlib import (batches, classifiers, cost, data, diffusion, distill, encoders, evaluate, features,  # noqa: F401
                   generative, losses, metrics, mixture, models, noise, plots, progress, pruning, store, tables, targets,
                   train)
from kdlib.batches import Batches, scale
from kdlib.classifiers import (PIXELS, STUDENT_MLP, TEACHER_MLP, hard_labels, misclassified, soft_labels,
                               train_classifier)
from kdlib.cost import macs_per_image, parameter_count
from kdlib.data import load
from kdlib.distill import (OBJECTIVES, GANScratch, OutputAdversarial, OutputDistillation, OutputFeatures, Student,
                           VAEDistillation, VAEScratch, hidden_maps, output_loss, train_student)
from kdlib.evaluate import (LABELS, EvaluationRow, Quality, evaluate_generator, fidelity, generated, generator_of, latents,
                            sampler, summary_row)
from kdlib.generative import fixed_latents, train_gan, train_vae
from kdlib.losses import (cross_entropy, discriminator_loss, distillation_loss, entropy, generator_loss,
                          kl_divergence, soften, vae_losses)
from kdlib.models import MLP, VAE, Decoder, Discriminator, Generator, as_generator, build
from kdlib.plots import image_grid, loss_curves
from kdlib.tables import markdown_table
from kdlib.targets import OverSeeds, over_seeds, target_checks
from kdlib.train import classifier_training, fit, gan_step, predict_logits, render, seed_everything, update, vae_step

__all__ = [
    # data and models
    "load", "scale", "Batches", "PIXELS", "MLP", "TEACHER_MLP", "STUDENT_MLP", "Generator", "Discriminator", "VAE",
    "Decoder", "build", "as_generator",
    # losses
    "cross_entropy", "entropy", "kl_divergence", "soften", "distillation_loss", "soft_labels", "hard_labels",
    "discriminator_loss", "generator_loss", "vae_losses", "output_loss", "hidden_maps",
    # training
    "fit", "update", "seed_everything", "classifier_training", "train_classifier", "predict_logits", "misclassified",
    "gan_step", "vae_step", "train_gan", "train_vae", "render", "fixed_latents",
    # distillation: one object per objective
    "OBJECTIVES", "OutputDistillation", "OutputAdversarial", "OutputFeatures", "GANScratch", "VAEDistillation",
    "VAEScratch", "Student", "train_student",
    # evaluation and cost
    "latents", "sampler", "generated", "generator_of", "evaluate_generator", "fidelity", "Quality", "summary_row", "LABELS",
    "EvaluationRow", "OverSeeds", "over_seeds", "target_checks",
    "parameter_count", "macs_per_image",
    # tables and figures
    "markdown_table", "image_grid", "loss_curves",
]
