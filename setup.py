"""Minimal setup script so that scrapyd-deploy can build an egg; metadata lives in pyproject.toml."""

from setuptools import setup

setup()
