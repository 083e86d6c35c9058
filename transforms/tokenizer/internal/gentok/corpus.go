package main

// corpus is the fixed training text: receipt lines (CORD-like), medical image Q&A
// (MedPix-like), visual-puzzle questions (RAVEN-like), GLM chat words and plain English, so the
// merges cover the mini datasets' vocabulary.
const corpus = `Thank you for shopping with us. Please come again.
RECEIPT #00123 2024-03-15 12:45 Table 7 Cashier: Anna
1 x Iced Lemon Tea 18,000
2 x Chicken Fried Rice 56,000
1 x Beef Noodle Soup 42,000
3 x Mineral Water 15,000
1 x Chocolate Cake 25,000
SUBTOTAL 156,000
TAX 10% 15,600
SERVICE 5% 7,800
TOTAL 179,400
CASH 200,000
CHANGE 20,600
Item Qty Price Total Discount Cash Change Card Visa Debit
menu nm cnt price unitprice sub_total subtotal_price tax_price total_price cashprice changeprice
<s_menu><s_nm>Iced Tea</s_nm><s_cnt>1</s_cnt><s_price>18,000</s_price></s_menu>
<s_total><s_total_price>179,400</s_total_price><s_cashprice>200,000</s_cashprice></s_total>
<sep/> coffee latte espresso cappuccino milk sugar bread toast salad soup rice noodle pizza burger
What abnormality is seen in the chest x-ray? There is a right-sided pneumothorax.
What imaging modality was used? This is an axial CT scan of the abdomen with contrast.
Where is the lesion located? The lesion is located in the left temporal lobe of the brain.
Is there evidence of a fracture? Yes, there is a displaced fracture of the distal radius.
What organ system is shown? The image shows the cardiovascular system and the heart.
Describe the findings. The MRI shows a well-defined mass with surrounding edema.
The patient presented with fever, cough and shortness of breath. Diagnosis: pneumonia.
kidney liver lung lungs spleen pancreas bone bones tumor cyst nodule effusion opacity
Which figure completes the pattern? Look at the rows and columns of the grid.
The answer is 5. Each row contains a triangle, a square and a circle.
The number of shapes increases by one in each column, and the color gets darker.
Choose the correct answer from the eight options below the matrix.
triangle square circle pentagon hexagon diamond shape shapes size color position rotation
<|user|>
What is shown in this image?<|assistant|>
<think>Let me look at the image carefully.</think>
The image shows a receipt from a restaurant.
<|system|>
You are a helpful assistant. Answer the question about the image.
The quick brown fox jumps over the lazy dog. It's a sunny day, isn't it? We'll see, they're here.
I've been there and I'd say you'll like it. She's the one who's in charge of the team.
Numbers like 1, 12, 123, 1234 and 3.14159 appear in text, as do dates like 2024-01-31.
Hello world! Hello, world. hello there: "quoted text" (parentheses) [brackets] {braces}.
    indented code line
	tabbed line
if x > 0 { return x * 2 } else { return -x }
`
