"""kdlib: the science of the kd-imagegen course (data, models, losses, distillation, training, metrics, evaluation),
one idea per module, all on this face. The course machinery is the wing ``kdlib.course``, which this core never imports.
"""

from kdlib.batches import Batches, scale
from kdlib.classifiers import (PIXELS, STUDENT_MLP, TEACHER_MLP, hard_labels, soft_labels, misclassified,
                               teacher_soft_labels, train_classifier)
from kdlib.cost import (LayerTime, interleaved_speed, layer_times, macs_per_image, parameter_count, speed,
                        steady_heap)
from kdlib.data import DATASETS, DataError, DataNotFoundError, load
from kdlib.distill import (OBJECTIVES, STUDENT_MODULE, Adaptors, GANScratch, LatentBatches, Objective,
                           OutputAdversarial, OutputDistillation, OutputFeatures, Student, VAEDistillation, VAEScratch,
                           decoder_loss, feature_loss, gaussian_kl, hidden_maps, output_loss, train_student)
from kdlib.diffusion import (ConsistencyDistillation, FlowMatching, Halving, LatentGenerator, OneStepRegression,
                             Velocity, consistency_sample, euler_sample, progressive_distillation, train_latent)
from kdlib.encoders import EncoderScores, encoder_scores
from kdlib.evaluate import (LABELS, Measurement, Quality, Ruler, compare, evaluate_generator, fidelity, generated,
                            latents, ruler, ruler_of, sampler, summary_row)
from kdlib.features import FeatureNet, feature_network
from kdlib.generative import GAN_LATENT, VAE_LATENT, fixed_latents, hold_then_decay, train_gan, train_vae
from kdlib.metrics import pixel_steps, recognisable_share
from kdlib.mixture import GaussianMixture, ex_post_prior, fit_mixture
from kdlib.losses import (cross_entropy, discriminator_loss, distillation_loss, entropy, generator_loss,
                          kl_divergence, soften, vae_losses)
from kdlib.models import (MLP, VAE, Decoder, Discriminator, Generator, as_generator, as_subpixel, build,
                          last_layer_as_subpixel, subpixel_layer)
from kdlib.plots import class_shares, image_grid, layer_time_bars, loss_curves, quality_against, snapshots
from kdlib.progress import progress
from kdlib.pruning import channel_importance, pruned_generator
from kdlib.store import CheckpointError, load_checkpoint, load_module, save_checkpoint, settings_digest
from kdlib.tables import markdown_table
from kdlib.train import (DivergedError, Trained, Training, classifier_training, fit, gan_step, predict_logits,
                         render, seed_everything, update, vae_step)

__all__ = ["Adaptors", "as_generator", "as_subpixel", "Batches", "build", "channel_importance", "CheckpointError",
    "class_shares",
    "classifier_training", "compare", "cross_entropy", "DataError", "DataNotFoundError", "DATASETS", "Decoder",
    "decoder_loss", "Discriminator", "discriminator_loss", "distillation_loss", "DivergedError", "encoder_scores",
    "EncoderScores", "entropy",
    "evaluate_generator", "ex_post_prior", "feature_loss", "feature_network", "FeatureNet", "fidelity", "fit",
    "fit_mixture", "fixed_latents", "GAN_LATENT", "gan_step", "GANScratch", "gaussian_kl", "GaussianMixture",
    "generated", "Generator", "generator_loss", "hard_labels", "hidden_maps", "hold_then_decay", "image_grid",
    "interleaved_speed", "kl_divergence", "LABELS", "last_layer_as_subpixel", "LatentBatches", "latents",
    "layer_time_bars", "layer_times",
    "LayerTime", "load", "load_checkpoint", "load_module", "loss_curves", "macs_per_image", "markdown_table",
    "Measurement", "misclassified", "MLP", "Objective", "OBJECTIVES", "output_loss", "OutputAdversarial",
    "OutputDistillation", "OutputFeatures", "parameter_count", "pixel_steps", "PIXELS", "predict_logits", "progress",
    "pruned_generator", "Quality",
    "quality_against", "recognisable_share", "render", "Ruler", "ruler", "ruler_of", "sampler", "save_checkpoint",
    "scale", "seed_everything", "settings_digest", "snapshots", "soft_labels", "soften", "speed", "steady_heap",
    "Student", "STUDENT_MLP", "STUDENT_MODULE", "subpixel_layer", "summary_row", "TEACHER_MLP", "teacher_soft_labels",
    "train_classifier",
    "train_gan", "train_student", "train_vae", "Trained", "Training", "update", "VAE", "VAE_LATENT", "vae_losses",
    "vae_step", "VAEDistillation", "VAEScratch"]
