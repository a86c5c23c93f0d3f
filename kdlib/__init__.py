"""kdlib: the science of the kd-imagegen course (data, models, losses, distillation, training, metrics, evaluation),
one idea per module, all on this face. The course machinery is the wing ``kdlib.course``, which this core never imports.
"""

from kdlib.batches import Batches, scale
from kdlib.classifiers import (PIXELS, STUDENT_MLP, TEACHER_MLP, hard_labels, soft_labels, misclassified,
                               train_classifier)
from kdlib.cost import macs_per_image, parameter_count, speed
from kdlib.data import DATASETS, DataError, DataNotFoundError, load
from kdlib.distill import (OBJECTIVES, STUDENT_MODULE, Adaptors, GANScratch, LatentBatches, Objective,
                           OutputAdversarial, OutputDistillation, OutputFeatures, Student, VAEDistillation, VAEScratch,
                           decoder_loss, feature_loss, gaussian_kl, hidden_maps, output_loss, train_student)
from kdlib.evaluate import (LABELS, Measurement, Quality, Ruler, compare, evaluate_generator, fidelity, generated,
                            latents, ruler, ruler_of, sampler, summary_row)
from kdlib.features import FeatureNet, feature_network
from kdlib.generative import GAN_LATENT, VAE_LATENT, fixed_latents, hold_then_decay, train_gan, train_vae
from kdlib.metrics import recognisable_share
from kdlib.mixture import GaussianMixture, ex_post_prior, fit_mixture
from kdlib.losses import (cross_entropy, discriminator_loss, distillation_loss, entropy, generator_loss,
                          kl_divergence, soften, vae_losses)
from kdlib.models import MLP, VAE, Decoder, Discriminator, Generator, as_generator, build
from kdlib.plots import class_shares, image_grid, loss_curves, quality_against, snapshots
from kdlib.progress import progress
from kdlib.store import CheckpointError, load_checkpoint, load_module, save_checkpoint, settings_digest
from kdlib.tables import markdown_table
from kdlib.train import (DivergedError, Trained, Training, classifier_training, fit, gan_step, predict_logits,
                         render, seed_everything, update, vae_step)

__all__ = ["Adaptors", "as_generator", "Batches", "build", "CheckpointError", "class_shares", "classifier_training",
    "compare", "cross_entropy", "DataError", "DataNotFoundError", "DATASETS", "Decoder", "decoder_loss",
    "Discriminator", "discriminator_loss", "distillation_loss", "DivergedError", "entropy", "evaluate_generator",
    "ex_post_prior", "feature_loss", "fidelity", "fit", "fit_mixture", "fixed_latents", "GAN_LATENT",
    "GaussianMixture", "hold_then_decay", "latents", "train_gan", "train_vae",
    "VAE_LATENT", "gan_step", "GANScratch", "gaussian_kl", "generated", "Generator",
    "generator_loss", "hidden_maps", "image_grid", "kl_divergence", "LABELS", "LatentBatches", "load",
    "load_checkpoint", "load_module", "loss_curves", "macs_per_image", "markdown_table", "Measurement", "MLP",
    "Objective", "OBJECTIVES", "output_loss", "OutputAdversarial", "OutputDistillation", "OutputFeatures",
    "parameter_count", "predict_logits", "progress", "Quality", "quality_against", "render", "Ruler", "ruler",
    "ruler_of", "recognisable_share", "FeatureNet", "feature_network",
    "sampler", "save_checkpoint", "scale", "seed_everything", "settings_digest", "snapshots", "soften", "speed",
    "Student", "STUDENT_MODULE", "PIXELS", "STUDENT_MLP", "TEACHER_MLP", "hard_labels", "soft_labels", "misclassified",
    "train_classifier", "summary_row", "train_student", "Trained", "Training", "update", "VAE",
    "vae_losses", "vae_step", "VAEDistillation", "VAEScratch"]
