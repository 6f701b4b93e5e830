"""Reading frames and brackets, writing results: ``read -> bracket -> align -> method -> write``."""

from .read import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    ExifInfo,
    Frame,
    find_reference_file,
    list_image_files,
    parse_exposure_times,
    read_exif,
    read_exposure_list,
    read_image,
)
from .write import OUTPUT_EXTENSIONS, check_output_path, is_hdr_path, read_hdr, write_image

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "OUTPUT_EXTENSIONS",
    "ExifInfo",
    "Frame",
    "check_output_path",
    "find_reference_file",
    "is_hdr_path",
    "list_image_files",
    "parse_exposure_times",
    "read_exif",
    "read_exposure_list",
    "read_hdr",
    "read_image",
    "write_image",
]
