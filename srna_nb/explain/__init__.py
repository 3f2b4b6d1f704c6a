"""Explanations: which sRNAs drive a model's predictions (permutation importance; gradients to come)."""

from srna_nb.explain.permutation import permutation_importance, shuffle_orders

__all__ = ["permutation_importance", "shuffle_orders"]
