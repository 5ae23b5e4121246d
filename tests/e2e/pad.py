"""The signature pad in the browser tests: a scribble with the mouse, and whether it shows."""


def draw(page):
    canvas = page.locator("canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + box["height"] * 0.7)
    page.mouse.down()
    for step in range(1, 16):
        page.mouse.move(
            box["x"] + 20 + step * 15, box["y"] + box["height"] * (0.3 if step % 2 else 0.7)
        )
    page.mouse.up()


# Whether the pad shows anything: any pixel that is not transparent.
PAD_HAS_INK = """() => {
  const canvas = document.querySelector("canvas");
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) return true;
  return false;
}"""
