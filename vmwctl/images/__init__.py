"""Images: VMDK files, qemu-img and the image service (Glance)."""
