// SPDX-License-Identifier: GPL-2.0
/*
 * HC1 token rings: the DMA memory a session's generations write tokens to,
 * its mappings into user space and the copies read() makes of it.
 *
 * A ring outlives its session while a mapping holds it (a reference each);
 * card removal frees the memory of every ring under the users' feet and
 * leaves the mappings to the zero page.
 */
#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "hc1_drv.h"

static void hc1_ring_release(struct kref *ref)
{
	struct hc1_ring *ring = container_of(ref, struct hc1_ring, ref);
	struct hc1_dev *hdev = ring->hdev;

	mutex_lock(&hdev->sessions_lock);
	if (ring->vaddr)
		dma_free_coherent(&hdev->pdev->dev, ring->bytes, ring->vaddr,
				  ring->dma);
	list_del(&ring->node);
	mutex_unlock(&hdev->sessions_lock);
	sg_free_table(&ring->sgt);
	hc1_dev_put(hdev);
	kfree(ring);
}

/**
 * hc1_ring_alloc() - allocate a session's token ring
 * @hdev: card
 *
 * Called with @hdev->sessions_lock held and the card present.
 *
 * Return: the ring, with one reference for the session, or NULL.
 */
struct hc1_ring *hc1_ring_alloc(struct hc1_dev *hdev)
{
	struct hc1_ring *ring = kzalloc(sizeof(*ring), GFP_KERNEL);

	if (!ring)
		return NULL;
	ring->shift = hdev->ring_shift;
	ring->bytes = PAGE_ALIGN(HC1_RING_BYTES(ring->shift));
	ring->vaddr = dma_alloc_coherent(&hdev->pdev->dev, ring->bytes,
					 &ring->dma, GFP_KERNEL);
	if (!ring->vaddr) {
		kfree(ring);
		return NULL;
	}
	if (dma_get_sgtable(&hdev->pdev->dev, &ring->sgt, ring->vaddr,
			    ring->dma, ring->bytes)) {
		dma_free_coherent(&hdev->pdev->dev, ring->bytes, ring->vaddr,
				  ring->dma);
		kfree(ring);
		return NULL;
	}
	kref_init(&ring->ref);
	ring->hdev = hdev;
	hc1_dev_get(hdev);
	list_add(&ring->node, &hdev->rings);
	return ring;
}

/**
 * hc1_ring_put() - drop a reference to a ring
 * @ring: ring; freed with the last reference
 */
void hc1_ring_put(struct hc1_ring *ring)
{
	kref_put(&ring->ref, hc1_ring_release);
}

static void hc1_ring_vm_open(struct vm_area_struct *vma)
{
	struct hc1_ring *ring = vma->vm_private_data;

	kref_get(&ring->ref);
}

static void hc1_ring_vm_close(struct vm_area_struct *vma)
{
	struct hc1_ring *ring = vma->vm_private_data;

	hc1_ring_put(ring);
}

/* The page frame of page @pgoff of the ring, which is inside it. */
static unsigned long hc1_ring_pfn(struct hc1_ring *ring, pgoff_t pgoff)
{
	struct scatterlist *sg;
	unsigned int i;

	for_each_sgtable_sg(&ring->sgt, sg, i) {
		pgoff_t n = sg->length >> PAGE_SHIFT;

		if (pgoff < n)
			return page_to_pfn(sg_page(sg)) + pgoff;
		pgoff -= n;
	}
	return 0;
}

/*
 * Mappings of a ring are filled here, a page at a time inside
 * hc1_dev_enter(), never by mmap(): hc1_sessions_card_gone() waits for
 * the read sections, then zaps every mapping linked into the file's
 * address space, and a mapping can only fault once mmap() has linked it.
 * A page inserted before removal is zapped; a fault after it sees the
 * card gone.  (mmap() filling the page tables itself left a window,
 * before the link, in which removal missed the mapping and freed the ring
 * under it.)  Once the card is gone
 * and the ring freed, map the zero page rather than raise SIGBUS: the
 * consumer reads an empty, idle ring and learns of the removal (-ENODEV)
 * from its next call instead of dying -- mappings stay valid or fail
 * cleanly.
 */
static vm_fault_t hc1_ring_vm_fault(struct vm_fault *vmf)
{
	struct hc1_ring *ring = vmf->vma->vm_private_data;
	struct hc1_dev *hdev = ring->hdev;
	vm_fault_t ret;
	int idx;

	if (vmf->pgoff >= ring->bytes >> PAGE_SHIFT)
		return VM_FAULT_SIGBUS;
	if (!hc1_dev_enter(hdev, &idx))
		return vmf_insert_pfn(vmf->vma, vmf->address,
				      my_zero_pfn(vmf->address));
	ret = vmf_insert_pfn(vmf->vma, vmf->address,
			     hc1_ring_pfn(ring, vmf->pgoff));
	hc1_dev_exit(hdev, idx);
	return ret;
}

static const struct vm_operations_struct hc1_ring_vm_ops = {
	.open = hc1_ring_vm_open,
	.close = hc1_ring_vm_close,
	.fault = hc1_ring_vm_fault,
};

/**
 * hc1_ring_copy() - copy tokens out of a session's ring
 * @s: session with a ring
 * @dst: destination, @n entries
 * @pos: token index of the generation to start at
 * @n: tokens to copy
 *
 * Return: 0, or -ENODEV if the card is gone and the ring freed.
 */
int hc1_ring_copy(struct hc1_file *s, u32 *dst, u32 pos, u32 n)
{
	struct hc1_dev *hdev = s->hdev;
	const __le32 *slots;
	u32 i;
	int idx;

	lockdep_assert_held(&s->lock);
	if (!hc1_dev_enter(hdev, &idx))
		return -ENODEV;
	slots = s->ring->vaddr + sizeof(struct hc1_ring_header);
	for (i = 0; i < n; i++) {
		u32 slot = hc1_ring_slot(pos + i, s->ring->shift);

		dst[i] = le32_to_cpu(READ_ONCE(slots[slot]));
	}
	hc1_dev_exit(hdev, idx);
	return 0;
}

/**
 * hc1_mmap() - map a session's token ring read-only
 * @file: the session's file
 * @vma: the mapping, at offset 0 and at most the ring's size
 *
 * Return: 0, or -errno.
 */
int hc1_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct hc1_file *s = file->private_data;
	struct hc1_dev *hdev = s->hdev;
	unsigned long len = vma->vm_end - vma->vm_start;
	struct hc1_ring *ring;
	int ret, idx;

	/* The ring belongs to the card while a generation runs. */
	if (vma->vm_flags & VM_WRITE)
		return -EPERM;
	if (vma->vm_pgoff)
		return -EINVAL;
	if (!hc1_dev_enter(hdev, &idx))
		return -ENODEV;
	/* Not s->lock: read() holds it across copy_to_user(). */
	mutex_lock(&hdev->sessions_lock);
	ring = s->ring;
	if (!ring)
		ret = -ENOENT;
	else if (len > ring->bytes)
		ret = -EINVAL;
	else
		ret = 0;
	if (ret)
		goto out;
	/*
	 * Pages are faulted in (hc1_ring_vm_fault()), with the protection of
	 * cacheable memory: the x86 DMA the driver supports is coherent.
	 */
	hc1_vm_flags_clear(vma, VM_MAYWRITE);
	hc1_vm_flags_set(vma, VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP);
	ring->mapping = file->f_mapping;
	vma->vm_private_data = ring;
	vma->vm_ops = &hc1_ring_vm_ops;
	kref_get(&ring->ref);
out:
	mutex_unlock(&hdev->sessions_lock);
	hc1_dev_exit(hdev, idx);
	return ret;
}

/**
 * hc1_rings_card_gone() - free every ring's memory of a card that is gone
 * @hdev: card; called with @hdev->sessions_lock held
 *
 * Mappings are zapped first: later accesses fault in the zero page (see
 * hc1_ring_vm_fault()).  The rings themselves stay until their last
 * reference goes.
 */
void hc1_rings_card_gone(struct hc1_dev *hdev)
{
	struct hc1_ring *ring;

	lockdep_assert_held(&hdev->sessions_lock);
	list_for_each_entry(ring, &hdev->rings, node) {
		if (ring->mapping)
			unmap_mapping_range(ring->mapping, 0, 0, 1);
		dma_free_coherent(&hdev->pdev->dev, ring->bytes, ring->vaddr,
				  ring->dma);
		ring->vaddr = NULL;
	}
}
