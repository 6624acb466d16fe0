/**
 * The tutorial's project (`examples/tutorial/`): its own HTTP test on memory layers runs here.
 */
import "../../examples/tutorial/Notes.test.js"
