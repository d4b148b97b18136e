"""Data for sepviz training: synthetic TTS corpus, corpus adapters, speaker-disjoint splits, wsj0-2mix mixing.

See training/data/README.md.
"""
