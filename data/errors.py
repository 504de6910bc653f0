"""Errors raised by data/: each message is one line that names the file, the problem and the fix."""


class DataError(RuntimeError):
    """Base class: a dataset (or an image to classify) could not be read or obtained."""


class IdxFormatError(DataError):
    """A file is not a valid IDX file (bad gzip, magic, dimensions or length)."""


class ChecksumError(DataError):
    """A file's sha256 differs from the registry's."""


class MissingDataError(DataError):
    """The files are not present and could not be downloaded."""


class ImageError(DataError):
    """An image file (a user's digit or photo) cannot be read, or shows nothing to classify."""
